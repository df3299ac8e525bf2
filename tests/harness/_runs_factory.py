"""Builds realistic run folders (run.json + samples.jsonl) for report and gate tests.

The folders go through the real pydantic run-record models and `write_run`, so the tests
read exactly what the runner writes, without running a model.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

from harness._aggregate import mean_metric
from harness.record import (
    AdapterRecord,
    Counts,
    DatasetRecord,
    Fingerprint,
    GenerationRecord,
    HarnessInfo,
    HostInfo,
    MetricRecord,
    ModelRecord,
    RunRecord,
    SampleRecord,
    ScoreRecord,
    TaskInfo,
    Timing,
    Usage,
    write_run,
)

MODEL = "HuggingFaceTB/SmolLM2-135M-Instruct"


def make_run(
    root: Path,
    run_id: str,
    correct: Sequence[float],
    *,
    adapter: str | None = None,
    adapter_path: Path | None = None,
    group_id: str | None = "g1",
    task: str = "gsm8k",
    metric: str = "accuracy",
    scorer: str = "exact_match",
    ids: Sequence[str] | None = None,
    targets: Sequence[str] | None = None,
    created_at: str = "2026-11-22T10:00:00+00:00",
    extra_metrics: dict[str, Sequence[float]] | None = None,
    status: str = "complete",
    fingerprint: Fingerprint | None = None,
    usage: Usage | None = None,
    timing: Timing | None = None,
    primary_metrics: Sequence[str] = (),
) -> Path:
    """Writes one run folder whose per-item ``metric`` values are ``correct``."""
    n = len(correct)
    ids = list(ids) if ids is not None else [f"{task}-{i:04d}" for i in range(n)]
    targets = list(targets) if targets is not None else [str(7 * i % 97) for i in range(n)]
    per_metric = {metric: list(correct), **{k: list(v) for k, v in (extra_metrics or {}).items()}}
    samples = []
    for i in range(n):
        right = correct[i] == 1
        answer = targets[i] if right else str(int(targets[i]) + 1)
        samples.append(
            SampleRecord(
                id=ids[i],
                prompt=[{"role": "user", "content": f"Question {i}: what is 7*{i} mod 97?"}],
                outputs=[f"Let me think. The answer is {answer}."],
                target=targets[i],
                scores={
                    scorer: ScoreRecord(
                        values={k: v[i] for k, v in per_metric.items()}, answer=answer
                    )
                },
                tokens_in=24,
                tokens_out=9,
            )
        )
    metrics = {}
    for k, v in per_metric.items():
        m = mean_metric(v)
        metrics[k] = MetricRecord(
            value=m.value,
            stderr=m.stderr,
            ci_low=m.ci_low,
            ci_high=m.ci_high,
            n=m.n,
            method=m.method,
        )
    adapter_rec = None
    if adapter:
        adapter_rec = AdapterRecord(
            name=adapter,
            path=str(adapter_path) if adapter_path else None,
            sha256="ab" * 32,
            base_model=MODEL,
            rank=8,
        )
    record = RunRecord(
        run_id=run_id,
        group_id=group_id,
        created_at=created_at,
        status=status,
        harness=HarnessInfo(version="0.1.0", git_sha="cc6cb48", git_dirty=False),
        task=TaskInfo(
            name=task,
            version="1",
            prompt_sha256="cd" * 32,
            primary_metrics=list(primary_metrics),
        ),
        dataset=DatasetRecord(
            name=task,
            source="local",
            location=f"/data/{task}",
            split="test",
            files={"test.jsonl": "ef" * 32},
            n_total=1319,
            n_evaluated=n,
            limit=n,
            seed=0,
        ),
        fingerprint=fingerprint,
        model=ModelRecord(
            id=MODEL,
            path="/models/smollm2",
            weight_sha256="01" * 32,
            backend="hf",
            dtype="float32",
            device="cpu",
            chat_template=True,
            adapter=adapter_rec,
        ),
        generation=GenerationRecord(
            max_new_tokens=256, temperature=0.0, top_p=1.0, stop=[], n=1, seed=0, batch_size=8
        ),
        scorers=[{"name": scorer, "args": {}}],
        metrics=metrics,
        counts=Counts(samples=n, requests=n, cache_hits=0, model_calls=n),
        timing=timing or Timing(wall_s=12.5, model_s=11.0, tokens_in=24 * n, tokens_out=9 * n),
        usage=usage or Usage(),
        host=HostInfo(platform="Linux", python="3.11.2", cpu_count=2),
        command=["harness", "run", task],
    )
    folder = root / run_id
    write_run(folder, record, samples)
    return folder


def write_manifest(folder: Path, losses: Sequence[tuple[int, float, float | None]]) -> Path:
    """Writes a trainer-style ``adapter_manifest.json`` with a loss history."""
    folder.mkdir(parents=True, exist_ok=True)
    history = [
        {"step": s, "train_loss": t, **({"eval_loss": e} if e is not None else {})}
        for s, t, e in losses
    ]
    path = folder / "adapter_manifest.json"
    path.write_text(json.dumps({"name": folder.name, "loss_history": history}), encoding="utf-8")
    return path
