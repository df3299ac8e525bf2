"""The ``judge_pairwise`` scorer: each answer against a baseline run's answer, in both orders.

``metrics: [{name: judge_pairwise, args: {baseline: runs/<run-id>}}]`` judges every item whose
id the baseline run also holds (`judges.pairwise.judge_pairs`: both orders, inconsistent
orders become a tie). Per sample ``win`` is 1 / 0.5 (tie) / 0 for this run's answer, so the
aggregated ``win_rate`` counts ties as half and carries an ordinary interval that ``report``
shows and ``gate`` checks like any metric (``win_rate >= 0.5``, non-inferiority). Also:
``tie_rate``, ``loss_rate``, ``position_consistency`` (both orders agree),
``pairwise_parse_failure_rate``, each side's mean answer length in characters, and
``lc_win_rate``, a length-controlled win rate in the manner of alpaca_eval: a logistic model of
the win on ``tanh`` of the standardised length difference, read at equal lengths.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from harness import (
    DataError,
    MetricValue,
    Output,
    RunContext,
    Sample,
    Score,
    Scorer,
    mean_metric,
    read_samples,
    scorer,
)
from judges.client import JudgeClient, UsesJudge
from judges.grading import _public
from judges.pairwise import PairItem, judge_pairs, record_answers
from judges.templates import PLACEHOLDERS, JudgeTemplate, load_template
from judges.turns import answers_of, question_of, reference_of, user_turns

WIN = {"a": 1.0, "tie": 0.5, "b": 0.0}
RATES = ("win_rate", "tie_rate", "loss_rate", "position_consistency", "pairwise_parse_failure_rate")


@scorer(
    "judge_pairwise",
    metrics=(
        "win_rate",
        "lc_win_rate",
        "tie_rate",
        "loss_rate",
        "position_consistency",
        "pairwise_parse_failure_rate",
        "answer_chars",
        "baseline_answer_chars",
    ),
)
class PairwiseJudge(UsesJudge, Scorer):
    """This run's answers against a baseline run's, judged in both orders.

    Args:
        baseline: The baseline run folder (its ``samples.jsonl`` gives the other answers).
        template: A pairwise template name or file.
        client: Share a judge client with other scorers.
        overrides: `JudgeConfig` fields a task sets on top of the run's judge.
    """

    name = "pairwise"
    placeholders = PLACEHOLDERS["judge_pairwise"]
    spec_exclude = ("client",)
    path_args = ("template",)

    def __init__(
        self,
        baseline: str | Path,
        template: str | Path | JudgeTemplate = "pairwise",
        client: JudgeClient | None = None,
        overrides: dict[str, Any] | None = None,
    ) -> None:
        self.baseline = Path(baseline)
        self.template = load_template(template, kind="pairwise")
        self._use_judge(None, client, overrides)
        super().__init__()

    def _baseline_answers(self) -> dict[str, list[str]]:
        """The baseline's answer to every turn of each item, by id."""
        if not (self.baseline / "samples.jsonl").is_file():
            raise DataError(
                f"judge_pairwise: baseline {self.baseline} is not a run folder "
                f"(no samples.jsonl); pass baseline: runs/<run-id>"
            )
        return {s.id: record_answers(s) for s in read_samples(self.baseline) if s.outputs}

    def preflight(self, ctx: RunContext) -> None:
        """Fails before any model call without a judge or a readable baseline run."""
        self._baseline_answers()
        config = self._resolve_judge(ctx.judge)
        self.args["judge"] = _public(config)
        self.args["template_sha256"] = self.template.sha256

    def __call__(self, sample: Sample, output: Output) -> Score:
        return self.score_all([sample], [output], RunContext(judge=self.config))[0]

    def score_all(
        self, samples: Sequence[Sample], outputs: Sequence[Output], ctx: RunContext | None = None
    ) -> list[Score]:
        self.preflight(ctx or RunContext(judge=self.config))
        other = self._baseline_answers()
        items = [
            PairItem(
                s.id,
                question_of(s),
                o.text,
                other[s.id][-1],
                questions=user_turns(s),
                turns_a=[*answers_of(o)[:-1], o.text],
                turns_b=other[s.id],
                refs=[reference_of(s)],
            )
            for s, o in zip(samples, outputs, strict=True)
            if s.id in other
        ]
        result = judge_pairs(items, self.config, self.template, self.client)
        by_id = {v.id: v for v in result.verdicts}
        scores = []
        for s, o in zip(samples, outputs, strict=True):
            v = by_id.get(s.id)
            if v is None:
                scores.append(Score(values={}, explanation="no baseline answer for this item"))
                continue
            final = v.final
            values: dict[str, float | None] = {  # keyed by metric name: the gate's per-item values
                "win_rate": WIN.get(final) if final else None,
                "tie_rate": None if final is None else float(final == "tie"),
                "loss_rate": None if final is None else float(final == "b"),
                "position_consistency": None if v.consistent is None else float(v.consistent),
                "pairwise_parse_failure_rate": float(final is None),
                "answer_chars": float(len(o.text)),
                "baseline_answer_chars": float(len(other[s.id][-1])),
            }
            scores.append(
                Score(
                    values=values,
                    answer=final,
                    explanation=" | ".join(str(r) for r in v.reasons),
                    metadata={"first": v.first, "second": v.second, "position": v.position},
                )
            )
        return scores

    def aggregate(
        self, scores: Sequence[Score], samples: Sequence[Sample]
    ) -> dict[str, MetricValue]:
        def col(key: str) -> list[float | None]:
            return [s.values.get(key) for s in scores]

        out = {k: mean_metric(col(k), bounds=(0.0, 1.0)) for k in RATES}
        out["lc_win_rate"] = MetricValue(
            lc_win_rate(col("win_rate"), col("answer_chars"), col("baseline_answer_chars")),
            n=sum(w is not None for w in col("win_rate")),
            method="glm",
        )
        out["answer_chars"] = mean_metric(col("answer_chars"))
        out["baseline_answer_chars"] = mean_metric(col("baseline_answer_chars"))
        return out

    def extra(self, scores: Sequence[Score], samples: Sequence[Sample]) -> dict[str, Any]:
        return {
            "judge:pairwise": {
                "judge": self.client.identity(),
                "templates": {self.template.name: self.template.sha256},
                "baseline": str(self.baseline),
                "items": sum("win_rate" in s.values for s in scores),
                "parse_failures": sum(
                    s.values.get("pairwise_parse_failure_rate") == 1.0 for s in scores
                ),
            }
        }


def lc_win_rate(
    wins: Sequence[float | None], len_a: Sequence[float | None], len_b: Sequence[float | None]
) -> float:
    """Length-controlled win rate: logistic fit of win on tanh(length difference / sd),
    evaluated at equal length (alpaca_eval's idea, without its per-instruction terms)."""
    rows = [
        (w, float(a) - float(b))
        for w, a, b in zip(wins, len_a, len_b, strict=True)
        if w is not None and a is not None and b is not None
    ]
    if not rows:
        return math.nan
    diffs = [d for _, d in rows]
    mean = sum(diffs) / len(diffs)
    sd = math.sqrt(sum((d - mean) ** 2 for d in diffs) / len(diffs)) or 1.0
    xs = [math.tanh(d / sd) for d in diffs]
    ys = [w for w, _ in rows]
    b0 = b1 = 0.0
    for _ in range(50):  # Newton steps with a small ridge penalty (separable data stays finite)
        ps = [1 / (1 + math.exp(-(b0 + b1 * x))) for x in xs]
        g0 = sum(y - p for y, p in zip(ys, ps, strict=True)) - 0.01 * b0
        g1 = sum((y - p) * x for y, p, x in zip(ys, ps, xs, strict=True)) - 0.01 * b1
        w = [p * (1 - p) for p in ps]
        h00 = sum(w) + 0.01
        h01 = sum(wi * x for wi, x in zip(w, xs, strict=True))
        h11 = sum(wi * x * x for wi, x in zip(w, xs, strict=True)) + 0.01
        det = h00 * h11 - h01 * h01
        if det <= 0:
            break
        b0 += (h11 * g0 - h01 * g1) / det
        b1 += (h00 * g1 - h01 * g0) / det
    return 1 / (1 + math.exp(-b0))
