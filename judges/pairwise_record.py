"""A run record for ``harness judge-pairwise RUN_A RUN_B``: run A, judged against run B.

The record is run A's (same model, task, dataset and generation settings, a new run id) with
its scores replaced by the `judges.pairwise_scorer.PairwiseJudge` scores against B: per item
win / tie / loss, both orders and position consistency in ``samples.jsonl``; ``win_rate``,
``lc_win_rate`` and the rest in ``run.json`` → ``metrics``, so ``report`` and ``gate`` read it
like any run. Items B lacks are left out.
"""

from __future__ import annotations

import datetime as dt
import math
import secrets
from pathlib import Path
from typing import Any

from harness import (
    Output,
    Prompt,
    RunContext,
    RunRecord,
    Sample,
    Score,
    read_run,
    read_samples,
)
from harness.record import MetricRecord, ScoreRecord, write_run
from judges.config import JudgeConfig
from judges.pairwise import record_questions
from judges.pairwise_scorer import PairwiseJudge


def pairwise_run(
    run_a: Path, run_b: Path, config: JudgeConfig, template: str, runs_dir: Path
) -> tuple[RunRecord, Path]:
    """Judges run A's answers against run B's and writes the result as a run folder."""
    record = read_run(run_a)
    by_id = {s.id: s for s in read_samples(run_b)}
    kept = [s for s in read_samples(run_a) if s.id in by_id and s.outputs and not s.errors]
    samples = []
    for s in kept:
        questions = record_questions(s, run_a)
        samples.append(
            Sample(
                s.id,
                Prompt.plain(questions[0]),
                s.target,
                metadata={"question": questions[0]},
                followups=tuple(questions[1:]),
            )
        )
    outputs = [Output(texts=list(s.outputs), turn_texts=s.turn_outputs or []) for s in kept]
    scorer = PairwiseJudge(baseline=run_b, template=template)
    scores = scorer.score_all(samples, outputs, RunContext(judge=config))
    metrics = {
        k: MetricRecord(**_finite(v.to_dict()))
        for k, v in scorer.aggregate(scores, samples).items()
    }
    now = dt.datetime.now(dt.timezone.utc)
    new = record.model_copy(
        update={
            "run_id": f"{now:%Y%m%d-%H%M%S}-{record.task.name}-pairwise-{secrets.token_hex(2)}",
            "created_at": now.isoformat(timespec="seconds"),
            "scorers": [scorer.spec()],
            "metrics": metrics,
            "extra": {**scorer.extra(scores, samples), "pairwise_of": [str(run_a), str(run_b)]},
        }
    )
    new = RunRecord.model_validate(new.model_dump())
    rows = [
        s.model_copy(update={"scores": {scorer.name: _score(sc)}})
        for s, sc in zip(kept, scores, strict=True)
    ]
    folder = runs_dir / new.run_id
    write_run(folder, new, rows)
    return new, folder


def _finite(d: dict[str, Any]) -> dict[str, Any]:
    return {k: None if isinstance(v, float) and not math.isfinite(v) else v for k, v in d.items()}


def _score(score: Score) -> ScoreRecord:
    return ScoreRecord(
        values=_finite(score.values),
        answer=score.answer,
        explanation=score.explanation,
        metadata=score.metadata,
    )
