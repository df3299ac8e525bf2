"""Degenerate outputs: a run that gives (nearly) one answer, and the trivial baselines.

A model that answers ``inform(`` for every ViGGO item scores the share of ``inform`` items on
function accuracy — majority-class guessing, not skill. This module measures how concentrated
a run's answers are (share of the most frequent answer, number of distinct answers) and finds
the trivial baseline of a classification-like metric: the value of always giving one answer
(the scorer's own ``trivial_baselines`` in the run record's ``extra``, else, for a 0/1 metric
over a few distinct targets, always answering the most frequent target).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from harness.runstore import lower_is_better
from harness.stats import answer_profile as stats_profile
from harness.stats import canonical, is_binary

if TYPE_CHECKING:
    from harness.runstore import LoadedRun

CONSTANT_SHARE = 0.9  # at or above this share of one answer a run is flagged


@dataclass
class AnswerProfile:
    """How concentrated a run's answers are.

    Attributes:
        n: Scored items.
        distinct: Distinct answers.
        top: The most frequent answer (shortened).
        top_share: Its share of the items.
    """

    n: int
    distinct: int
    top: str
    top_share: float

    @property
    def flag(self) -> str | None:
        """ "constant prediction", "near-constant prediction" or None."""
        if self.n < 2:
            return None
        if self.distinct == 1:
            return "constant prediction"
        return "near-constant prediction" if self.top_share >= CONSTANT_SHARE else None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready fields."""
        return {
            "n": self.n,
            "distinct": self.distinct,
            "top": self.top,
            "top_share": self.top_share,
            "flag": self.flag,
        }


def _answer(sample: Any) -> str:
    for score in sample.scores.values():
        if score.answer is not None:
            return canonical(score.answer) if not isinstance(score.answer, str) else score.answer
    return sample.outputs[0].strip() if sample.outputs else ""


def answer_profile(run: LoadedRun) -> AnswerProfile | None:
    """The answer profile of a run's scored items (None when nothing was scored)."""
    p = stats_profile([_answer(s) for s in run.samples if s.scores])
    if not p["n"]:
        return None
    return AnswerProfile(p["n"], p["distinct"], p["top"], p["top_share"])


def trivial_baseline(run: LoadedRun, metric: str) -> tuple[float, str] | None:
    """(value, rule) of the trivial baseline of ``metric``, or None when it has none."""
    if lower_is_better(metric):
        return None
    declared = run.record.extra.get("trivial_baselines", {}).get(metric)
    if isinstance(declared, dict) and declared.get("value") is not None:
        return float(declared["value"]), str(declared.get("rule", "trivial baseline"))
    values = [v for v in run.values(metric).values() if v is not None]
    targets = [canonical(s.target) for s in run.samples if s.scores]
    if not values or not is_binary(values) or not targets:
        return None
    counts = Counter(targets)
    if len(counts) > max(2, len(targets) // 5):  # open-ended answers: no majority class
        return None
    top, count = counts.most_common(1)[0]
    return count / len(targets), f"always answer the most frequent target ({top[:40]})"
