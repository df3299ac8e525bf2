"""Building a run record from one evaluated variant.

`VariantRun` holds everything one variant's evaluation produced; `build_record` turns it into
the `RunRecord` and `SampleRecord`s written to its run folder, one small function per part of
the record.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import math
import os
import secrets
from dataclasses import dataclass
from typing import Any

from harness import record as rec
from harness._categories import per_category
from harness._context import TokenPrice
from harness._data import DataOptions, Dataset
from harness._host import git_state, harness_version, host_info
from harness._output_split import SplitStats, keeps_raw, split_metrics, split_record
from harness._requests import Batch
from harness._task import Task
from harness._types import GenerationParams, Output, Sample, Score
from harness.backends._base import AdapterSpec, Backend
from harness.contamination._run import AdapterCheck, clean_metrics, mark_samples
from harness.stats import answer_profile

SECRET_FLAGS = ("--api-key", "--judge-api-key", "--token")


@dataclass(frozen=True)
class VariantRun:
    """One variant's evaluation: what was asked, answered and scored.

    Attributes:
        task: The task.
        backend: The backend that served the variant.
        adapter: The adapter (None: the base model).
        dataset: The evaluated items.
        data: The data options the items were selected with.
        params: Generation parameters.
        prompts: Per item, the prompt as rendered by the backend.
        outputs: Per item, what the model produced.
        scored: Indices of the items that were scored (every request answered).
        scores: Per scorer, per scored item, the score.
        batch: The variant's request results.
        started: When the variant started (UTC).
        wall: Seconds from start to scores.
        group_id: Shared by the variants evaluated together.
        command: The argv that started the run (redacted when recorded).
        system_prompt: The ``--system-prompt`` every item got (None: the task's prompts).
        price: The endpoint's price per token (None: no cost estimate).
        ready: Seconds from the process start until the first variant could send a request
            (None: not measured).
        split: What the reasoning split found (None: a log-likelihood task).
        contamination: The adapter's training data checked against the items (None: base).
        prompting: How prompts were shaped and rendered (chat-template settings, fit).
    """

    task: Task
    backend: Backend
    adapter: AdapterSpec | None
    dataset: Dataset
    data: DataOptions
    params: GenerationParams
    prompts: list[Any]
    outputs: list[Output]
    scored: list[int]
    scores: list[list[Score]]
    batch: Batch
    started: dt.datetime
    wall: float
    group_id: str
    command: list[str]
    system_prompt: str | None = None
    price: TokenPrice | None = None
    ready: float | None = None
    split: SplitStats | None = None
    contamination: AdapterCheck | None = None
    prompting: rec.PromptingRecord | None = None

    @property
    def variant(self) -> str:
        return self.adapter.name if self.adapter else "base"


def build_record(run: VariantRun) -> tuple[rec.RunRecord, list[rec.SampleRecord]]:
    """The run record and sample records of ``run``."""
    metrics, extra = _metrics(run)
    problems = _problems(run)
    sha, dirty = git_state()
    record = rec.RunRecord(
        run_id=f"{run.started:%Y%m%d-%H%M%S}-{run.task.name}-{_slug(run.variant)}-"
        f"{secrets.token_hex(2)}",
        group_id=run.group_id,
        created_at=run.started.isoformat(timespec="seconds"),
        status="complete" if run.batch.errors == 0 and not problems else "incomplete",
        scorer_problems=problems,
        harness=rec.HarnessInfo(version=harness_version(), git_sha=sha, git_dirty=dirty),
        task=_task_info(run.task),
        dataset=_dataset_record(run),
        fingerprint=fingerprint(run.task, run.dataset),
        model=_model_record(run),
        generation=rec.GenerationRecord(
            **run.params.to_dict(),
            batch_size=run.backend.batch_size,
            system_prompt=run.system_prompt,
        ),
        scorers=[s.spec() for s in run.task.scorers],
        metrics=metrics,
        extra=extra,
        counts=_counts(run),
        timing=_timing(run),
        usage=_usage(run, extra),
        reasoning=split_record(run.split, run.outputs, run.batch.results),
        prompting=run.prompting,
        host=rec.HostInfo(**host_info()),
        command=redact(run.command),
        contamination=run.contamination.record if run.contamination else None,
    )
    return record, mark_samples(_sample_records(run), run.contamination)


def _metrics(run: VariantRun) -> tuple[dict[str, rec.MetricRecord], dict[str, Any]]:
    metrics: dict[str, rec.MetricRecord] = {}
    extra: dict[str, Any] = {}
    samples = [run.dataset.samples[i] for i in run.scored]
    if not samples:
        return metrics, extra
    for scorer, per_sample in zip(run.task.scorers, run.scores, strict=True):
        overall = scorer.aggregate(per_sample, samples)
        if run.task.categories is not None:
            overall = {**per_category(scorer, per_sample, samples, run.task.categories), **overall}
        for name, mv in overall.items():
            metrics[name] = rec.MetricRecord(**_finite(mv.to_dict()))
        extra.update(scorer.extra(per_sample, samples))
        answers = [_answer_text(s) for s in per_sample]
        extra.setdefault("answers", {})[scorer.name] = answer_profile(answers)
    for name, mv in split_metrics(run.split).items():
        metrics[name] = rec.MetricRecord(**_finite(mv.to_dict()))
    clean = clean_metrics(run.task.scorers, run.scores, samples, run.contamination)
    metrics.update({k: rec.MetricRecord(**_finite(mv.to_dict())) for k, mv in clean.items()})
    return metrics, extra


def _answer_text(score: Score) -> str:
    """The extracted answer (or the hypothesis) as text, for the answer profile."""
    a = score.answer if score.answer is not None else score.metadata.get("hypothesis", "")
    return a if isinstance(a, str) else repr(a)


def _problems(run: VariantRun) -> list[str]:
    samples = [run.dataset.samples[i] for i in run.scored]
    if not samples:
        return []
    return [
        p
        for scorer, per_sample in zip(run.task.scorers, run.scores, strict=True)
        for p in scorer.problems(per_sample, samples)
    ]


def _task_info(task: Task) -> rec.TaskInfo:
    return rec.TaskInfo(
        name=task.name,
        version=task.version,
        params=task.params,
        prompt_sha256=task.prompt_sha256,
        mode=task.mode,
        categories=task.categories,
        primary_metrics=list(task.primary_metrics),
    )


def _dataset_record(run: VariantRun) -> rec.DatasetRecord:
    info = run.dataset.info
    return rec.DatasetRecord(
        name=info.name,
        source=info.source,
        location=info.location,
        split=info.split,
        revision=info.revision,
        files=info.files,
        n_total=info.n_total,
        n_evaluated=len(run.dataset.samples),
        limit=run.data.limit,
        sample=run.data.sample,
        seed=run.data.seed,
        ids=[s.id for s in run.dataset.samples] if _subset(run) else None,
    )


def fingerprint(task: Task, dataset: Dataset) -> rec.Fingerprint:
    """What was evaluated: data files' hashes (or the hub id and revision), the YAML task file
    and its hash, the task parameters; plus a 12-character digest over all of it."""
    info = dataset.info
    source = None if info.files else f"{info.location}@{info.revision or info.split}"
    parts: dict[str, Any] = {
        "data_files": dict(sorted(info.files.items())),
        "data_source": source,
        "task_file": task.source_file,
        "task_file_sha256": task.source_sha256,
        "task_params": task.params,
    }
    blob = json.dumps(parts, sort_keys=True, default=str).encode()
    return rec.Fingerprint(digest=hashlib.sha256(blob).hexdigest()[:12], **parts)


def _subset(run: VariantRun) -> bool:
    return run.data.limit is not None or run.data.sample is not None


def _model_record(run: VariantRun) -> rec.ModelRecord:
    info, adapter = run.backend.model_info(), run.adapter
    return rec.ModelRecord(
        id=info.id,
        path=info.path,
        weight_sha256=info.weight_sha256,
        weights_hash_s=info.extra.get("weights_hash_s"),
        backend=run.backend.name,
        dtype=info.dtype,
        device=info.device,
        chat_template=bool(run.backend.chat_template) and run.task.chat_template is not False,
        adapter=None
        if adapter is None
        else rec.AdapterRecord(
            name=adapter.name,
            path=str(adapter.path),
            sha256=adapter.sha256,
            base_model=adapter.base_model,
            rank=adapter.rank,
        ),
        engine={k: info.extra[k] for k in ("engine_args", "ray", "warm_server") if k in info.extra},
    )


def _counts(run: VariantRun) -> rec.Counts:
    b = run.batch
    return rec.Counts(
        samples=len(run.dataset.samples),
        requests=len(b.results),
        cache_hits=b.cache_hits,
        model_calls=b.model_calls,
        errors=b.errors,
    )


def _timing(run: VariantRun) -> rec.Timing:
    b, wall = run.batch, run.wall
    generated = b.tokens_out if run.task.mode == "generate" else 0
    engine = _engine_start(run.backend)
    setup = None if run.ready is None else round(max(0.0, run.ready - (engine or 0.0)), 3)
    return rec.Timing(
        wall_s=round(wall, 3),
        model_s=round(b.model_s, 3),
        tokens_in=b.tokens_in,
        tokens_out=generated,
        tokens_per_s=round(generated / b.model_s, 2) if b.model_s > 0 and b.model_calls else None,
        items_per_s=round(len(run.dataset.samples) / wall, 3) if wall > 0 else None,
        engine_start_s=engine,
        setup_s=setup,
    )


def _engine_start(backend: Backend) -> float | None:
    """Engine start-up seconds: the offline engine or Ray replicas, else a launched server."""
    start = getattr(backend, "engine_start_s", None)
    if start is None:
        start = getattr(getattr(backend, "server", None), "startup_s", None)
    return None if start is None else round(float(start), 3)


def _judge_tokens(extra: dict[str, Any]) -> tuple[int, int, int] | None:
    """Judge tokens in and out and calls, summed over the judge scorers' ``judge:<name>``."""
    counts = [j for k, j in extra.items() if k.startswith("judge:") and isinstance(j, dict)]
    counts = [j for j in counts if "tokens_in" in j]
    if not counts:
        return None
    calls = sum(int(j.get("calls", 0)) for j in counts)
    return sum(j["tokens_in"] for j in counts), sum(j["tokens_out"] for j in counts), calls


def _ragas_usage(extra: dict[str, Any]) -> dict[str, int] | None:
    """RAGAS's judge calls and tokens, from its scorer's ``ragas`` extra."""
    usage = extra.get("ragas", {}).get("usage") if isinstance(extra.get("ragas"), dict) else None
    if not isinstance(usage, dict):
        return None
    return {k: int(usage.get(k, 0)) for k in ("calls", "tokens_in", "tokens_out")}


def _usage(run: VariantRun, extra: dict[str, Any]) -> rec.Usage:
    """Model tokens and their cost, and the judge's tokens when a judge scored the run.

    A log-likelihood request generates nothing: the continuation tokens it scores are input.
    """
    b, price = run.batch, run.price
    tokens_in, tokens_out = b.tokens_in, b.tokens_out
    if run.task.mode == "loglikelihood":
        tokens_in, tokens_out = tokens_in + tokens_out, 0
    judge, ragas = _judge_tokens(extra), _ragas_usage(extra)
    thinking = run.split.reasoning_tokens if run.split is not None else None
    return rec.Usage(
        model_tokens_in=tokens_in,
        model_tokens_out=tokens_out,
        model_reasoning_tokens=thinking,
        reasoning_tokens_method=run.split.tokens_method if run.split is not None else None,
        reasoning_cost=round(price.cost(0, thinking), 6)
        if price and thinking is not None
        else None,
        judge_tokens_in=judge[0] if judge else None,
        judge_tokens_out=judge[1] if judge else None,
        judge_calls=judge[2] if judge else None,
        ragas_calls=ragas["calls"] if ragas else None,
        ragas_tokens_in=ragas["tokens_in"] if ragas else None,
        ragas_tokens_out=ragas["tokens_out"] if ragas else None,
        price_per_1k_in=price.per_1k_in if price else None,
        price_per_1k_out=price.per_1k_out if price else None,
        cost=round(price.cost(tokens_in, tokens_out), 6) if price else None,
    )


def _user_turns(sample: Sample) -> list[str] | None:
    """The sample's user turns as the task wrote them (None for a prompt without messages)."""
    users = [m.content for m in sample.prompt.messages if m.role == "user"]
    return [users[-1], *sample.followups] if users else None


def _sample_records(run: VariantRun) -> list[rec.SampleRecord]:
    tokens = _tokens_per_sample(run)
    position = {item: k for k, item in enumerate(run.scored)}
    raw = keeps_raw(run.split, run.outputs)
    per_item = run.split.per_item if run.split is not None else {}
    return [
        rec.SampleRecord(
            id=s.id,
            prompt=p,
            outputs=o.texts,
            raw_outputs=o.raw_texts if raw else None,
            reasoning=o.reasoning if raw else None,
            output_metrics=per_item.get(i, {}),
            turn_outputs=o.turn_texts or None,
            user_turns=_user_turns(s),
            choice_logprobs=o.choice_logprobs,
            target=s.target,
            scores={
                sc.name: _score_record(per_sample[position[i]])
                for sc, per_sample in zip(run.task.scorers, run.scores, strict=True)
            }
            if i in position
            else {},
            errors=o.errors,
            tokens_in=tokens[i][0],
            tokens_out=tokens[i][1],
            metadata=s.metadata,
        )
        for i, (s, p, o) in enumerate(
            zip(run.dataset.samples, run.prompts, run.outputs, strict=True)
        )
    ]


def _score_record(score: Score) -> rec.ScoreRecord:
    return rec.ScoreRecord(
        values=_finite(score.values),
        answer=score.answer,
        explanation=score.explanation,
        metadata=score.metadata,
    )


def _tokens_per_sample(run: VariantRun) -> list[tuple[int, int]]:
    samples = run.dataset.samples
    if run.task.mode == "loglikelihood":
        index = [si for si, s in enumerate(samples) for _ in (s.choices or [])]
    else:
        index = [si for si in range(len(samples)) for _ in range(run.params.n)]
    totals = [[0, 0] for _ in samples]
    for si, r in zip(index, run.batch.results, strict=True):
        totals[si][0] += r.tokens_in
        totals[si][1] += r.tokens_out
    return [(a, b) for a, b in totals]


def _finite(d: dict[str, Any]) -> dict[str, Any]:
    """NaN/inf become None so run.json stays valid JSON."""
    return {k: (None if isinstance(v, float) and not math.isfinite(v) else v) for k, v in d.items()}


def _slug(text: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "-" for c in text)[:40]


def redact(argv: list[str]) -> list[str]:
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
