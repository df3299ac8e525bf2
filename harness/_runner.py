"""Evaluating a task on a backend: the base model and any number of adapters, one record each.

All variants see the identical samples and rendered prompts; their records share a
``group_id`` so reports can pair them item by item. Every model answer goes through the
request cache, so an interrupted run resumes where it stopped.
"""

from __future__ import annotations

import datetime as dt
import os
import secrets
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from harness import record as rec
from harness._cache import RequestCache
from harness._host import git_state, harness_version, host_info
from harness._requests import Batch, run_requests
from harness._task import DataOptions, Dataset, Task
from harness._types import GenerationParams, Output, Sample, Score
from harness._ui import Reporter
from harness.backends._base import AdapterSpec, Backend, LoglikelihoodRequest


@dataclass
class EvalResult:
    """One variant's finished run.

    Attributes:
        record: The run record as written to ``folder/run.json``.
        samples: The per-sample records as written to ``folder/samples.jsonl``.
        folder: The run folder (None when not written).
    """

    record: rec.RunRecord
    samples: list[rec.SampleRecord]
    folder: Path | None


def evaluate(
    task: Task,
    backend: Backend,
    *,
    adapters: Sequence[AdapterSpec] = (),
    include_base: bool = True,
    data: DataOptions | None = None,
    generation: GenerationParams | None = None,
    cache: RequestCache | None = None,
    runs_dir: Path | None = Path("runs"),
    reporter: Reporter | None = None,
    command: Sequence[str] | None = None,
    dataset: Dataset | None = None,
) -> list[EvalResult]:
    """Evaluates ``task`` for the base model (if ``include_base``) and each adapter.

    Args:
        task: The task to run.
        backend: Serves the base model (and the adapters).
        adapters: Adapters to evaluate, all on the same items.
        include_base: Evaluate the base model too.
        data: Where data comes from and how many items.
        generation: Overrides the task's generation parameters.
        cache: Request cache (None: no caching).
        runs_dir: Where run folders are written (None: not written).
        reporter: Progress events.
        command: The argv recorded in the run (defaults to ``sys.argv``).
        dataset: Samples already loaded with ``task.load(data)`` (loaded here when None).

    Returns:
        One result per variant, base first.
    """
    data = data or DataOptions()
    params = generation or task.generation
    reporter = reporter or Reporter()
    task.preflight()
    dataset = dataset or task.load(data)
    if not dataset.samples:
        from harness._errors import DataError

        raise DataError(f"task {task.name} produced no samples (check --limit and the data files)")
    backend.prepare(list(adapters))
    prompts = [backend.render(s.prompt) for s in dataset.samples]
    group_id = f"g-{dt.datetime.now(dt.timezone.utc):%Y%m%d-%H%M%S}-{secrets.token_hex(3)}"
    variants: list[AdapterSpec | None] = ([None] if include_base else []) + list(adapters)
    results = []
    for adapter in variants:
        started = dt.datetime.now(dt.timezone.utc)
        t0 = time.perf_counter()
        label = f"{task.name} · {adapter.name if adapter else 'base'}"
        outputs, batch = _collect(
            task, backend, adapter, dataset.samples, prompts, params, cache, reporter, label
        )
        scores = _score(task, dataset.samples, outputs)
        wall = time.perf_counter() - t0
        record, samples = _build_record(
            task,
            backend,
            adapter,
            dataset,
            data,
            params,
            prompts,
            outputs,
            scores,
            batch,
            started,
            wall,
            group_id,
            list(command if command is not None else sys.argv),
        )
        folder = None
        if runs_dir is not None:
            folder = Path(runs_dir) / record.run_id
            rec.write_run(folder, record, samples)
        results.append(EvalResult(record, samples, folder))
    return results


def _collect(
    task: Task,
    backend: Backend,
    adapter: AdapterSpec | None,
    samples: list[Sample],
    prompts: list[Any],
    params: GenerationParams,
    cache: RequestCache | None,
    reporter: Reporter,
    label: str,
) -> tuple[list[Output], Batch]:
    """Runs the variant's requests and groups the answers per sample."""
    if task.mode == "loglikelihood":
        pairs = [
            (si, LoglikelihoodRequest(str(prompts[si]), c))
            for si, s in enumerate(samples)
            for c in (s.choices or [])
        ]
        batch = run_requests(
            backend,
            adapter,
            ll_requests=[r for _, r in pairs],
            cache=cache,
            reporter=reporter,
            label=label,
        )
        outputs = [Output(choice_logprobs=[], choice_tokens=[]) for _ in samples]
        for (si, _), res in zip(pairs, batch.results, strict=True):
            out = outputs[si]
            if res.get("error"):
                out.errors.append(str(res["error"]))
            assert out.choice_logprobs is not None and out.choice_tokens is not None
            out.choice_logprobs.append(float(res.get("logprob", float("-inf"))))
            out.choice_tokens.append(int(res.get("tokens", 0) or 0))
        return outputs, batch
    index = [si for si in range(len(samples)) for _ in range(params.n)]
    batch = run_requests(
        backend,
        adapter,
        prompts=[prompts[si] for si in index],
        params=params,
        cache=cache,
        reporter=reporter,
        label=label,
    )
    outputs = [Output() for _ in samples]
    for si, res in zip(index, batch.results, strict=True):
        if res.get("error"):
            outputs[si].errors.append(str(res["error"]))
        outputs[si].texts.append(str(res.get("text", "")))
    return outputs, batch


def _score(task: Task, samples: list[Sample], outputs: list[Output]) -> list[list[Score]]:
    """Per scorer, the score of every sample."""
    return [scorer.score_all(samples, outputs) for scorer in task.scorers]


def _build_record(
    task: Task,
    backend: Backend,
    adapter: AdapterSpec | None,
    dataset: Dataset,
    data: DataOptions,
    params: GenerationParams,
    prompts: list[Any],
    outputs: list[Output],
    scores: list[list[Score]],
    batch: Batch,
    started: dt.datetime,
    wall: float,
    group_id: str,
    command: list[str],
) -> tuple[rec.RunRecord, list[rec.SampleRecord]]:
    info = backend.model_info()
    metrics: dict[str, rec.MetricRecord] = {}
    extra: dict[str, Any] = {}
    for scorer, per_sample in zip(task.scorers, scores, strict=True):
        for name, mv in scorer.aggregate(per_sample, dataset.samples).items():
            metrics[name] = rec.MetricRecord(**_finite(mv.to_dict()))
        extra_fn = getattr(scorer, "extra", None)
        if callable(extra_fn):
            extra.update(extra_fn(per_sample, dataset.samples))
    tokens_in = sum(int(r.get("tokens_in", 0) or 0) for r in batch.results)
    tokens_out = sum(int(r.get("tokens_out", 0) or 0) for r in batch.results)
    variant = adapter.name if adapter else "base"
    run_id = f"{started:%Y%m%d-%H%M%S}-{task.name}-{_slug(variant)}-{secrets.token_hex(2)}"
    sha, dirty = git_state()
    n_req = len(batch.results)
    per_sample_tokens = _tokens_per_sample(
        batch, len(dataset.samples), params.n, task.mode, dataset
    )
    samples = [
        rec.SampleRecord(
            id=s.id,
            prompt=p,
            outputs=o.texts,
            choice_logprobs=o.choice_logprobs,
            target=s.target,
            scores={
                sc.name: rec.ScoreRecord(
                    values=_finite(scs[i].values),
                    answer=scs[i].answer,
                    explanation=scs[i].explanation,
                    metadata=scs[i].metadata,
                )
                for sc, scs in zip(task.scorers, scores, strict=True)
            },
            errors=o.errors,
            tokens_in=per_sample_tokens[i][0],
            tokens_out=per_sample_tokens[i][1],
            metadata=s.metadata,
        )
        for i, (s, p, o) in enumerate(zip(dataset.samples, prompts, outputs, strict=True))
    ]
    record = rec.RunRecord(
        run_id=run_id,
        group_id=group_id,
        created_at=started.isoformat(timespec="seconds"),
        status="complete" if batch.errors == 0 else "partial",
        harness=rec.HarnessInfo(version=harness_version(), git_sha=sha, git_dirty=dirty),
        task=rec.TaskInfo(
            name=task.name,
            version=task.version,
            params=task.params,
            prompt_sha256=task.prompt_sha256,
            mode=task.mode,
        ),
        dataset=rec.DatasetRecord(
            name=dataset.info.name,
            source=dataset.info.source,
            location=dataset.info.location,
            split=dataset.info.split,
            revision=dataset.info.revision,
            files=dataset.info.files,
            n_total=dataset.info.n_total,
            n_evaluated=len(dataset.samples),
            limit=data.limit,
            seed=data.seed,
        ),
        model=rec.ModelRecord(
            id=info.id,
            path=info.path,
            weight_sha256=info.weight_sha256,
            backend=backend.name,
            dtype=info.dtype,
            device=info.device,
            chat_template=bool(backend.chat_template),
            adapter=None
            if adapter is None
            else rec.AdapterRecord(
                name=adapter.name,
                path=str(adapter.path),
                sha256=adapter.sha256,
                base_model=adapter.base_model,
                rank=adapter.rank,
            ),
        ),
        generation=rec.GenerationRecord(**params.to_dict(), batch_size=backend.batch_size),
        scorers=[s.spec() for s in task.scorers],
        metrics=metrics,
        extra=extra,
        counts=rec.Counts(
            samples=len(dataset.samples),
            requests=n_req,
            cache_hits=batch.cache_hits,
            model_calls=batch.model_calls,
            errors=batch.errors,
        ),
        timing=rec.Timing(
            wall_s=round(wall, 3),
            model_s=round(batch.model_s, 3),
            tokens_in=tokens_in,
            tokens_out=tokens_out,
            tokens_per_s=round(tokens_out / batch.model_s, 2)
            if batch.model_s > 0 and batch.model_calls
            else None,
            items_per_s=round(len(dataset.samples) / wall, 3) if wall > 0 else None,
        ),
        host=rec.HostInfo(**host_info()),
        command=_redact(command),
    )
    return record, samples


def _tokens_per_sample(
    batch: Batch, n_samples: int, n: int, mode: str, dataset: Dataset
) -> list[tuple[int, int]]:
    totals = [[0, 0] for _ in range(n_samples)]
    if mode == "loglikelihood":
        index = [si for si, s in enumerate(dataset.samples) for _ in (s.choices or [])]
    else:
        index = [si for si in range(n_samples) for _ in range(n)]
    for si, r in zip(index, batch.results, strict=True):
        totals[si][0] += int(r.get("tokens_in", 0) or 0)
        totals[si][1] += int(r.get("tokens_out", r.get("tokens", 0)) or 0)
    return [(a, b) for a, b in totals]


def _finite(d: dict[str, Any]) -> dict[str, Any]:
    """NaN/inf become None so run.json stays valid JSON."""
    import math

    return {k: (None if isinstance(v, float) and not math.isfinite(v) else v) for k, v in d.items()}


def _slug(text: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "-" for c in text)[:40]


SECRET_FLAGS = ("--api-key", "--judge-api-key", "--token")


def _redact(argv: list[str]) -> list[str]:
    """Drops values of secret flags and anything equal to a key in the environment."""
    secrets_in_env = {v for k, v in os.environ.items() if k.endswith(("_API_KEY", "_TOKEN")) and v}
    out, hide = [], False
    for a in argv:
        if hide or a in secrets_in_env:
            out.append("***")
            hide = False
            continue
        flag, eq, _ = a.partition("=")
        if flag in SECRET_FLAGS:
            if eq:
                out.append(f"{flag}=***")
            else:
                out.append(a)
                hide = True
            continue
        out.append(a)
    return out


def with_overrides(params: GenerationParams, **overrides: Any) -> GenerationParams:
    """``params`` with the non-None overrides applied."""
    return replace(params, **{k: v for k, v in overrides.items() if v is not None})
