"""How far two judges agree on the same outputs: two judged run folders, matched by sample id.

The usual case: one task run once, then scored by two judges (``harness rescore``, or the same
run judged twice with different ``--judge-model``), or two ``judge-pairwise`` records of the
same pair of runs. Grades (``<name>_score``, 1-10) are compared with quadratic-weighted Cohen's
kappa, verdicts (A / tie / B) with plain kappa; both with Spearman's rho (verdicts ranked
B < tie < A) and a bootstrap interval over items. Items are paired only when both runs hold the
same answer for them; a run pair whose answers differ is refused, as is one with nothing to
pair.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness import DataError, MetricValue, SampleRecord, read_run, read_samples
from judges.agreement import MIN_ITEMS, _bootstrap, cohen_kappa, spearman

VERDICT_RANK = {"b": 0.0, "tie": 0.5, "a": 1.0}


@dataclass(frozen=True)
class Agreement:
    """Two judges' agreement on one task's shared outputs.

    Attributes:
        scorer: The judge scorer compared (its name in both runs).
        kind: "grade" (1-10, quadratic-weighted kappa) or "verdict" (A / tie / B, plain).
        n: Items both judges gave a readable verdict on.
        unreadable: Shared items where either verdict is missing.
        exact: Share of the ``n`` items with identical verdicts.
        kappa: Cohen's kappa with its bootstrap interval.
        spearman: Spearman's rho with its bootstrap interval.
    """

    scorer: str
    kind: str
    task: str
    n: int
    unreadable: int
    exact: float
    kappa: MetricValue
    spearman: MetricValue

    def to_dict(self) -> dict[str, Any]:
        return {
            "scorer": self.scorer,
            "kind": self.kind,
            "task": self.task,
            "n": self.n,
            "unreadable": self.unreadable,
            "exact_agreement": self.exact,
            "kappa": self.kappa.to_dict(),
            "spearman": self.spearman.to_dict(),
        }


def verdict_of(sample: SampleRecord, scorer: str) -> tuple[str, Any] | None:
    """The judge's verdict on one sample: ("grade", float|None) or ("verdict", str|None);
    None when the sample holds no judge score under ``scorer``."""
    score = sample.scores.get(scorer)
    if score is None:
        return None
    if f"{scorer}_score" in score.values:
        return "grade", score.values[f"{scorer}_score"]
    if "win_rate" in score.values or score.answer in VERDICT_RANK:
        return "verdict", score.answer if score.answer in VERDICT_RANK else None
    return None


def judge_scorers(samples: list[SampleRecord]) -> set[str]:
    """The names of the judge scorers the samples carry."""
    return {name for s in samples for name in s.scores if verdict_of(s, name) is not None}


def compare_judges(run_a: Path, run_b: Path, scorer: str | None = None) -> Agreement:
    """Agreement between the judges of two runs over the same outputs.

    Raises:
        DataError: The runs are of different tasks, share no item, hold different answers
            for shared items, carry no (common) judge scorer, or pair too few verdicts.
    """
    task_a, task_b = read_run(run_a).task.name, read_run(run_b).task.name
    if task_a != task_b:
        raise DataError(f"{run_a} is task {task_a!r} but {run_b} is {task_b!r}; compare one task")
    a = {s.id: s for s in read_samples(run_a)}
    b = {s.id: s for s in read_samples(run_b)}
    shared = [i for i in a if i in b]
    if not shared:
        raise DataError(f"{run_a} and {run_b} share no sample id; judge the same outputs twice")
    differ = [i for i in shared if a[i].outputs != b[i].outputs]
    if differ:
        raise DataError(
            f"{len(differ)} of {len(shared)} shared items have different answers (first: "
            f"{differ[0]}); judge agreement needs the same outputs judged twice (harness rescore)"
        )
    name = scorer or _common_scorer([a[i] for i in shared], [b[i] for i in shared])
    return _agreement(name, task_a, [(a[i], b[i]) for i in shared])


def _common_scorer(a: list[SampleRecord], b: list[SampleRecord]) -> str:
    common = judge_scorers(a) & judge_scorers(b)
    if len(common) == 1:
        return next(iter(common))
    if not common:
        raise DataError("the runs share no judge scorer (judge, judge_pairwise, ...) to compare")
    raise DataError(f"the runs share judge scorers {sorted(common)}; pick one with --scorer")


def _agreement(name: str, task: str, pairs: list[tuple[SampleRecord, SampleRecord]]) -> Agreement:
    found = [(verdict_of(x, name), verdict_of(y, name)) for x, y in pairs]
    kinds = {v[0] for pair in found for v in pair if v is not None}
    if not kinds:
        raise DataError(f"no sample of either run carries a {name!r} judge score")
    if len(kinds) > 1:
        raise DataError(f"{name!r} holds grades in one run and pairwise verdicts in the other")
    kind = kinds.pop()
    both = [(va[1], vb[1]) for va, vb in found if va and vb and None not in (va[1], vb[1])]
    if len(both) < MIN_ITEMS:
        raise DataError(
            f"only {len(both)} shared items carry readable {name!r} verdicts in both runs "
            f"(need {MIN_ITEMS})"
        )
    rank = (lambda v: float(v)) if kind == "grade" else VERDICT_RANK.__getitem__
    weights = "quadratic" if kind == "grade" else None

    def kappa(items: Any) -> float:
        return cohen_kappa([x for x, _ in items], [y for _, y in items], weights)

    def rho(items: Any) -> float:
        return spearman([rank(x) for x, _ in items], [rank(y) for _, y in items])

    return Agreement(
        scorer=name,
        kind=kind,
        task=task,
        n=len(both),
        unreadable=len(pairs) - len(both),
        exact=sum(x == y for x, y in both) / len(both),
        kappa=_bootstrap(both, kappa),
        spearman=_bootstrap(both, rho),
    )
