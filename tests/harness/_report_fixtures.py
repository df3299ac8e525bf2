"""Run folders for the report-layout tests: a base-vs-LoRA judged run and a 3-task suite.

Both are written with `_runs_factory.make_run` (the record format `harness run` writes), with
the metric names the real scorers produce: the judge's ``judge_score`` and ``judge_error_rate``,
RAGAS's ``<metric>`` and ``<metric>_failure_rate``, GSM8K's ``<label>_match`` and
``<label>_no_match``. ``faithfulness`` is scored on 1 of the 10 items, as RAGAS does when the
items carry no context.
"""

from __future__ import annotations

from pathlib import Path

from _runs_factory import make_run

INSTRUCT_PRIMARY = ("judge_score", "answer_correctness", "semantic_similarity")


def _judged(root: Path, run_id: str, shift: float, adapter: str | None) -> None:
    n = 10
    judge = [min(10.0, 4.0 + (i % 4) + shift * 3 * (i % 3)) for i in range(n)]
    make_run(
        root,
        run_id,
        judge,
        task="instruct",
        metric="judge_score",
        scorer="judge",
        adapter=adapter,
        adapter_path=root.parent / "adapters" / (adapter or "none"),
        ids=[f"instruct-{i}" for i in range(n)],
        extra_metrics={
            "judge_error_rate": [0.0] * 9 + [1.0],
            "answer_correctness": [min(1.0, 0.3 + 0.05 * i + shift * (i % 3)) for i in range(n)],
            "answer_correctness_failure_rate": [0.0] * 8 + [1.0, 1.0],
            "semantic_similarity": [min(1.0, 0.6 + 0.03 * i + shift * (i % 2)) for i in range(n)],
            "semantic_similarity_failure_rate": [0.0] * n,
            "faithfulness": [0.5 + shift] + [None] * (n - 1),  # type: ignore[list-item]
            "faithfulness_failure_rate": [0.0] + [1.0] * (n - 1),
        },
        primary_metrics=INSTRUCT_PRIMARY,
        created_at=f"2026-11-22T10:00:0{int(adapter is not None)}+00:00",
    )


def judged_runs(root: Path) -> Path:
    """The base model and a LoRA adapter on 10 judged instruct items (same group: paired)."""
    runs = root / "runs"
    _judged(runs, "run-instruct-base", 0.0, None)
    _judged(runs, "run-instruct-lora", 0.2, "instruct-lora")
    return runs


SUITE = {
    "gsm8k": ("flexible_match", "strict_match", "flexible_no_match", "strict_no_match"),
    "arc_challenge_with_a_long_name": ("acc_norm", "acc"),
    "ifeval": (
        "prompt_level_strict_acc",
        "inst_level_strict_acc",
        "prompt_level_loose_acc",
        "inst_level_loose_acc",
    ),
}


def suite_runs(root: Path) -> Path:
    """Base and adapter on a 3-task suite: 2 primary metrics each (6 in all), 30 items."""
    runs = root / "runs"
    for k, (task, metrics) in enumerate(SUITE.items()):
        for a, adapter in enumerate((None, "suite-lora")):
            values = {
                m: [float((i + j + a) % 3 == 0) for i in range(30)] for j, m in enumerate(metrics)
            }
            first = metrics[0]
            make_run(
                runs,
                f"run-{task}-{a}",
                values.pop(first),
                task=task,
                metric=first,
                adapter=adapter,
                adapter_path=root / "adapters" / "suite-lora",
                extra_metrics=values,
                primary_metrics=metrics[:2],
                created_at=f"2026-11-22T10:0{k}:0{a}+00:00",
            )
    return runs
