"""Exact match of the (extracted) answer against the target, with light normalisation.

The generic scorer for user-defined tasks: the answer is the output text (after the YAML task's
extraction step, if any); the target may be one string or a list of acceptable strings.
"""

from __future__ import annotations

import re

from harness._scorer import Scorer, scorer
from harness._types import Output, Sample, Score
from harness.extract import normalize_number


@scorer("exact_match", metrics=("exact_match",))
class ExactMatch(Scorer):
    """1.0 when the normalised answer equals a normalised target, else 0.0.

    Args:
        ignore_case: Compare case-insensitively.
        ignore_whitespace: Collapse runs of whitespace and strip both ends.
        numbers: Compare numbers after `normalize_number` (``$1,000.00`` == ``1000``).
    """

    name = "exact_match"

    def __init__(
        self, ignore_case: bool = True, ignore_whitespace: bool = True, numbers: bool = False
    ) -> None:
        super().__init__(
            ignore_case=ignore_case, ignore_whitespace=ignore_whitespace, numbers=numbers
        )
        self.ignore_case = ignore_case
        self.ignore_whitespace = ignore_whitespace
        self.numbers = numbers

    def normalize(self, text: str) -> str:
        """``text`` as compared."""
        if self.ignore_whitespace:
            text = re.sub(r"\s+", " ", text).strip()
        if self.numbers:
            text = normalize_number(text)
        return text.lower() if self.ignore_case else text

    def __call__(self, sample: Sample, output: Output) -> Score:
        targets = sample.target if isinstance(sample.target, list) else [sample.target]
        answer = self.normalize(output.text)
        hit = any(answer == self.normalize(str(t)) for t in targets)
        return Score(values={"exact_match": float(hit)}, answer=answer)
