"""Answer extraction and exact-match scoring shared by tasks.

`normalize_number` makes ``$1,234.00``, ``1234.`` and ``1234`` compare equal. `RegexMatch`
extracts an answer with a regular expression and reports, per sample, exact match against the
target and whether the pattern matched at all (its no-match rate is the mean of the latter).
"""

from __future__ import annotations

import re
from typing import Literal

from harness._scorer import Scorer, scorer
from harness._types import Output, Sample, Score


def normalize_number(text: str) -> str:
    """Strips ``$``, commas, spaces and a trailing ``.``; integral decimals lose their zeros."""
    s = text.strip().replace("$", "").replace(",", "").replace(" ", "").rstrip(".")
    try:
        value = float(s)
    except ValueError:
        return s
    if value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    return s


def extract(pattern: re.Pattern[str], text: str, select: Literal["first", "last"]) -> str | None:
    """The selected match of ``pattern`` in ``text`` (first non-empty group), or None."""
    matches = list(pattern.finditer(text))
    if not matches:
        return None
    m = matches[0] if select == "first" else matches[-1]
    groups = [g for g in m.groups() if g] if m.groups() else []
    return groups[0] if groups else m.group(0)


@scorer("regex_match", metrics=("<label>_match", "<label>_no_match"))
class RegexMatch(Scorer):
    """Extracts a number with a regex and scores exact match after `normalize_number`.

    Args:
        label: Prefix of the metric names (``<label>_match``, ``<label>_no_match``).
        pattern: Regular expression; its first non-empty group (or whole match) is the answer.
        select: Take the first or the last match in the output.
    """

    def __init__(
        self, label: str, pattern: str, select: Literal["first", "last"] = "first"
    ) -> None:
        super().__init__(label=label, pattern=pattern, select=select)
        self.name = label
        self.label = label
        self.pattern = re.compile(pattern)
        self.select: Literal["first", "last"] = select

    def __call__(self, sample: Sample, output: Output) -> Score:
        raw = extract(self.pattern, output.text, self.select)
        answer = normalize_number(raw) if raw is not None else None
        match = float(answer is not None and answer == normalize_number(str(sample.target)))
        return Score(
            values={f"{self.label}_match": match, f"{self.label}_no_match": float(raw is None)},
            answer=answer,
        )
