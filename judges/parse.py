"""Reading a judge's verdict: structured JSON first, a strict pattern second, else a failure.

A verdict that cannot be read is returned as a `Verdict` with ``value=None`` and the reason in
``failure``; callers count it (``judge_parse_failure_rate``) and never drop it. The fallback
patterns are deliberately strict (``"score": 7``, ``Score: 7/10``, ``[[7]]``): a number
floating somewhere in free text is not a score.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

SCORE_PATTERNS = (
    re.compile(r'"score"\s*:\s*"?(\d{1,2}(?:\.\d+)?)"?'),
    re.compile(
        r"(?im)^\s*(?:final\s+)?(?:score|rating)\s*[:=]\s*(\d{1,2}(?:\.\d+)?)(?:\s*/\s*10)?\s*$"
    ),
    re.compile(r"\[\[(\d{1,2}(?:\.\d+)?)\]\]"),
)
WINNER_PATTERNS = (
    re.compile(r'"winner"\s*:\s*"(A|B|tie)"', re.IGNORECASE),
    re.compile(r"\[\[(A|B|C|tie)\]\]", re.IGNORECASE),
)
SCORE_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "reason": {"type": "string"},
        "score": {"type": "integer", "minimum": 1, "maximum": 10},
    },
    "required": ["reason", "score"],
}
PAIR_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "reason": {"type": "string"},
        "winner": {"type": "string", "enum": ["A", "B", "tie"]},
    },
    "required": ["reason", "winner"],
}


@dataclass
class Verdict:
    """What was read from one judge reply.

    Attributes:
        value: The score (1-10) or the winner ("A", "B", "tie"); None when unreadable.
        reason: The judge's explanation, when given.
        method: "json", "regex", or "none" (failed).
        failure: Why the reply could not be read.
    """

    value: float | str | None
    reason: str | None = None
    method: str = "none"
    failure: str | None = None


def _json_object(text: str) -> dict[str, Any] | None:
    body = text.strip()
    fence = re.match(r"^```(?:json)?\s*(.*?)\s*```$", body, re.DOTALL)
    if fence:
        body = fence.group(1)
    try:
        data = json.loads(body)
    except ValueError:
        start, end = body.find("{"), body.rfind("}")
        if start < 0 or end <= start:
            return None
        try:
            data = json.loads(body[start : end + 1])
        except ValueError:
            return None
    return data if isinstance(data, dict) else None


def parse_score(text: str, low: float = 1, high: float = 10) -> Verdict:
    """Reads a 1-10 score from a judge reply."""
    if not text.strip():
        return Verdict(None, failure="empty reply")
    data = _json_object(text)
    if data is not None and "score" in data:
        raw = data["score"]
        reason = str(data.get("reason", "")) or None
        try:
            value = float(raw)
        except (TypeError, ValueError):
            return Verdict(None, reason, failure=f"score is not a number: {raw!r}")
        if not low <= value <= high:
            return Verdict(None, reason, failure=f"score {value:g} outside {low:g}-{high:g}")
        return Verdict(value, reason, "json")
    for pattern in SCORE_PATTERNS:
        m = pattern.search(text)
        if m:
            value = float(m.group(1))
            if low <= value <= high:
                return Verdict(value, None, "regex")
            return Verdict(None, failure=f"score {value:g} outside {low:g}-{high:g}")
    what = "JSON without a 'score' field" if data is not None else "no JSON and no 'score: N'"
    return Verdict(None, failure=what)


def parse_winner(text: str) -> Verdict:
    """Reads a pairwise verdict ("A", "B" or "tie") from a judge reply."""
    if not text.strip():
        return Verdict(None, failure="empty reply")
    data = _json_object(text)
    if data is not None and "winner" in data:
        raw = str(data["winner"]).strip().strip("[]").lower()
        mapped = {"a": "A", "b": "B", "tie": "tie", "c": "tie", "draw": "tie"}.get(raw)
        reason = str(data.get("reason", "")) or None
        if mapped is None:
            return Verdict(None, reason, failure=f"winner is not A, B or tie: {data['winner']!r}")
        return Verdict(mapped, reason, "json")
    for pattern in WINNER_PATTERNS:
        m = pattern.search(text)
        if m:
            raw = m.group(1).lower()
            return Verdict({"a": "A", "b": "B"}.get(raw, "tie"), None, "regex")
    return Verdict(None, failure="no JSON 'winner' and no [[A]]/[[B]]/[[C]]")


def parse_brackets(text: str) -> Verdict:
    """A free-text pairwise verdict read as FastChat reads ``output_format: "[[A]]"``:
    "[[A]]" anywhere wins, else "[[B]]", else "[[C]]" (a tie); nothing else counts."""
    if not text.strip():
        return Verdict(None, failure="empty reply")
    for tag, value in (("[[A]]", "A"), ("[[B]]", "B"), ("[[C]]", "tie")):
        if tag in text:
            return Verdict(value, None, "pattern")
    return Verdict(None, failure="no [[A]], [[B]] or [[C]] in the reply")


def parse_pattern(text: str, pattern: re.Pattern[str], low: float = 1, high: float = 10) -> Verdict:
    """Reads a score with a template's own regex only (``format: regex``): with MT-bench's
    ``[[rating]]`` pattern, a reply saying "Rating: 5.5" is a failure, never some other number."""
    if not text.strip():
        return Verdict(None, failure="empty reply")
    m = pattern.search(text)
    if m is None:
        return Verdict(None, failure=f"no match for the template's pattern {pattern.pattern}")
    try:
        value = float(m.group(1))
    except (IndexError, ValueError):
        return Verdict(None, failure=f"pattern matched {m.group(0)!r}, not a number")
    if not low <= value <= high:
        return Verdict(None, failure=f"score {value:g} outside {low:g}-{high:g}")
    return Verdict(value, None, "pattern")
