"""Every bounded metric's interval stays inside its scale (issue 23, case 5).

Random grade lists — all at the minimum, all at the maximum, one item, a thousand items and
everything between — go through the real ``aggregate`` of each scorer with a bounded metric
(judge grades 1-10 and its rates, pairwise rates, RAGAS scores, sentence BLEU 0-100); the 95%
interval must contain the mean and lie inside the scale. The issue's case: every grade 1 on
the 1-10 scale gave [0.722, 1.000].
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest

from harness import mean_metric
from harness._types import MetricValue, Sample, Score


def _samples(n: int) -> list[Sample]:
    meta = {"contexts": ["a passage"]}  # faithfulness is reported only with contexts
    return [Sample(id=str(i), prompt="q", target="a", metadata=meta) for i in range(n)]


def _judge(values: list[float]) -> MetricValue:
    from judges.grading import JudgeScorer

    scores = [Score(values={"judge_score": v, "judge_parse_failure": 0.0}) for v in values]
    samples = _samples(len(values))
    return JudgeScorer().aggregate(scores, samples)["judge_score"]


def _ragas(metric: str) -> Callable[[list[float]], MetricValue]:
    def agg(values: list[float]) -> MetricValue:
        from judges.ragas_metrics import RagasScorer

        scorer = RagasScorer.__new__(RagasScorer)  # aggregate reads only ``metrics``
        scorer.metrics = (metric,)
        scores = [Score(values={metric: v, f"{metric}_failed": 0.0}) for v in values]
        samples = _samples(len(values))
        return scorer.aggregate(scores, samples)[metric]

    return agg


def _pairwise(values: list[float]) -> MetricValue:
    from judges.pairwise_scorer import PairwiseJudge

    scorer = PairwiseJudge.__new__(PairwiseJudge)
    rows = dict.fromkeys(("tie_rate", "loss_rate", "position_consistency"), 0.0)
    scores = [
        Score(values={**rows, "win_rate": v, "answer_chars": 10.0, "baseline_answer_chars": 9.0})
        for v in values
    ]
    samples = _samples(len(values))
    return scorer.aggregate(scores, samples)["win_rate"]


# (name, aggregate of a list of per-item values, scale, values a grade can take or None).
BOUNDED: list[tuple[str, Callable[[list[float]], MetricValue], tuple[float, float], list | None]]
BOUNDED = [
    ("judge_score", _judge, (1.0, 10.0), list(range(1, 11))),
    ("judge_parse_failure_rate", lambda v: mean_metric(v, (0.0, 1.0)), (0.0, 1.0), [0, 1]),
    ("pairwise win_rate", _pairwise, (0.0, 1.0), [0.0, 0.5, 1.0]),
    ("ragas answer_correctness", _ragas("answer_correctness"), (0.0, 1.0), None),
    ("ragas faithfulness", _ragas("faithfulness"), (0.0, 1.0), None),
    ("ragas semantic_similarity", _ragas("semantic_similarity"), (-1.0, 1.0), None),
    ("bleu_sentence", lambda v: mean_metric(v, (0.0, 100.0)), (0.0, 100.0), None),
]


def _lists(scale: tuple[float, float], grid: list | None) -> list[list[float]]:
    """All-min, all-max and one-item lists, then random ones of 2 to 1,000 items."""
    lo, hi = scale
    rng = np.random.default_rng(23)
    out = [[lo], [hi], [lo] * 5, [hi] * 5, [lo] * 1000, [hi] * 1000, [lo, hi], [lo] * 999 + [hi]]
    for _ in range(60):
        n = int(rng.choice([1, 2, 3, 10, 50, 1000]))
        if grid is not None:
            vals = rng.choice(np.asarray(grid, dtype=float), size=n)
        else:
            vals = rng.uniform(lo, hi, size=n)
            vals[rng.random(n) < 0.3] = rng.choice([lo, hi])  # pile up at the ends
        out.append([float(v) for v in vals])
    return out


@pytest.mark.parametrize(
    ("name", "aggregate", "scale", "grid"), BOUNDED, ids=[b[0] for b in BOUNDED]
)
def test_interval_inside_the_scale(
    name: str,
    aggregate: Callable[[list[float]], MetricValue],
    scale: tuple[float, float],
    grid: list | None,
) -> None:
    lo, hi = scale
    for values in _lists(scale, grid):
        mv = aggregate(values)
        assert mv.n == len(values)
        assert mv.value == pytest.approx(sum(values) / len(values))
        assert mv.ci_low is not None and mv.ci_high is not None
        assert lo <= mv.ci_low <= mv.value + 1e-12, (name, values[:5], mv)
        assert mv.value - 1e-12 <= mv.ci_high <= hi, (name, values[:5], mv)


def test_all_grades_one_on_the_judge_scale() -> None:
    mv = _judge([1.0] * 20)
    assert mv.value == 1.0 and mv.method == "wilson-scaled"
    assert mv.ci_low == 1.0 and 1.0 < mv.ci_high < 3.0  # was [0.722, 1.000]
