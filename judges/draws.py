"""Judge variance: several verdicts per item, and the expected grade from log-probabilities.

``samples: k`` draws k verdicts per judged turn (seeds 0..k-1 at the template's temperature)
and combines them by `combine` (median by default, as FastChat's maintainers advise; or mean);
the spread (max - min) is kept per item. ``score: expected`` reads the grade token's top
log-probabilities and returns Σ p(grade) × grade over the grades among them, renormalised
(G-Eval's scoring); when it cannot (the endpoint sent no log-probabilities, the grade is not
one token, no grade among the alternatives) it falls back to the verdict's grade and says why,
so the run can count each reason. A grade split over several tokens ("10" as "1", "0") is
read from its first token only; a whole number per token is what this assumes.
"""

from __future__ import annotations

import math
import re
import statistics
from collections.abc import Sequence

JSON_GRADE = re.compile(r'"score"\s*:\s*"?(\d{1,2}(?:\.\d+)?)')
AGGREGATES = ("median", "mean")
SCORES = ("verdict", "expected")
TOP_LOGPROBS = 20


def combine(values: Sequence[float | None], how: str = "median") -> float | None:
    """The draws' combined grade (unreadable draws left out; None when none was read)."""
    read = [v for v in values if v is not None]
    if not read:
        return None
    return float(statistics.median(read)) if how == "median" else sum(read) / len(read)


def spread(values: Sequence[float | None]) -> float | None:
    """Max - min of the readable draws (None with fewer than two)."""
    read = [v for v in values if v is not None]
    return max(read) - min(read) if len(read) > 1 else None


def expected_grade(
    text: str,
    logprobs: list[tuple[str, dict[str, float]]] | None,
    pattern: re.Pattern[str] | None,
    low: float = 1,
    high: float = 10,
) -> tuple[float | None, str | None]:
    """Σ p(grade) × grade at the verdict's grade token.

    Args:
        text: The judge's reply.
        logprobs: Its tokens with their top alternatives (None: the endpoint sent none).
        pattern: The template's verdict regex (group 1 the grade); None: JSON ``"score": N``.
        low: Lowest grade.
        high: Highest grade.

    Returns:
        (expected grade, None), or (None, the reason it could not be computed).
    """
    if not logprobs:
        return None, "no logprobs returned"
    m = (pattern or JSON_GRADE).search(text)
    if m is None:
        return None, "no grade in the reply"
    if not m.group(1).isdigit():
        return None, "grade is not a whole number"
    start, pos = m.start(1), 0
    for token, top in logprobs:
        if pos <= start < pos + len(token):
            return _expected(token[: start - pos], top, low, high)
        pos += len(token)
    return None, "tokens do not spell the reply"


def _expected(
    prefix: str, top: dict[str, float], low: float, high: float
) -> tuple[float | None, str | None]:
    mass = weighted = 0.0
    for alt, logprob in top.items():
        if not alt.startswith(prefix):
            continue
        rest = alt[len(prefix) :].strip()
        if rest.isdigit() and low <= int(rest) <= high:
            p = math.exp(logprob)
            mass += p
            weighted += p * int(rest)
    if mass <= 0:
        return None, "no grade among the top logprobs"
    return weighted / mass, None
