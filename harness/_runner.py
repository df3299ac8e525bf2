"""Evaluating a task on a backend: the base model and any number of adapters, one record each.

All variants see the identical samples and rendered prompts; their records share a
``group_id`` so reports can pair them item by item. Every model answer goes through the
request cache, so an interrupted run resumes where it stopped. The run record is built from
one `VariantRun` value by `harness._record_build`.
"""

from __future__ import annotations

import datetime as dt
import secrets
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from harness import record as rec
from harness._context import RunContext
from harness._data import DataOptions, Dataset
from harness._errors import DataError
from harness._host import process_age
from harness._loader import load_dataset
from harness._output_split import SplitStats, split_outputs
from harness._prompting import Fitted, fewshot_form, fit_prompts, prompting_record
from harness._record_build import VariantRun, build_record
from harness._requests import Batch, RequestResult, run_requests
from harness._task import Task
from harness._turns import converse
from harness._types import GenerationParams, Output, Sample, Score
from harness.backends._base import AdapterSpec, Backend, LoglikelihoodRequest
from harness.contamination._run import check_adapter
from harness.reasoning import Splitter, resolve_splitter


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
    dataset: Dataset | None = None,
    system_prompt: str | None = None,
    group_id: str | None = None,
    context: RunContext | None = None,
) -> list[EvalResult]:
    """Evaluates ``task`` for the base model (if ``include_base``) and each adapter.

    Most callers want `harness.run_eval`, which also builds and closes the backend.

    Args:
        task: The task to run.
        backend: Serves the base model (and the adapters).
        adapters: Adapters to evaluate, all on the same items.
        include_base: Evaluate the base model too.
        data: Where data comes from and how many items.
        generation: Overrides the task's generation parameters.
        dataset: Items already selected with ``load_dataset(task, data)`` (loaded when None).
        system_prompt: Replaces every prompt's system turn (so it is in the rendered prompt,
            hence in the cache key) and is recorded.
        group_id: Shared by the records of one evaluation call (a new one when None).
        context: Cache, output folder, reporter, code-execution policy, judge.

    Returns:
        One result per variant, base first.
    """
    ctx = context or RunContext()
    data = data or DataOptions()
    params = generation or task.generation
    task.preflight(ctx)
    dataset = dataset or load_dataset(task, data)
    if not dataset.samples:
        raise DataError(f"task {task.name} produced no samples (check --limit and the data files)")
    if system_prompt is not None:
        dataset = _with_system(dataset, system_prompt)
    backend.prepare(list(adapters))
    dataset, fitted = _prompts(task, backend, dataset, params, ctx)
    prompts = fitted.prompts
    prompting = prompting_record(backend, ctx.prompting, fitted, [s.id for s in dataset.samples])
    splitter = _splitter(task, backend, ctx)
    group_id = group_id or new_group_id()
    command = list(ctx.command if ctx.command is not None else sys.argv)
    variants: list[AdapterSpec | None] = ([None] if include_base else []) + list(adapters)
    checks = {a.name: check_adapter(a, task.name, dataset.samples) for a in adapters}
    results = []
    ready = process_age()
    for adapter in variants:
        started = dt.datetime.now(dt.timezone.utc)
        t0 = time.perf_counter()
        label = f"{task.name} · {adapter.name if adapter else 'base'}"
        outputs, batch = _collect(
            task, backend, adapter, dataset.samples, fitted, params, ctx, label, splitter
        )
        split = _split(task, outputs, batch, params, prompts, splitter, backend)
        scored = [i for i, o in enumerate(outputs) if not o.errors]  # failures are never scored
        scores = _score(
            task, [dataset.samples[i] for i in scored], [outputs[i] for i in scored], ctx
        )
        run = VariantRun(
            task=task,
            backend=backend,
            adapter=adapter,
            dataset=dataset,
            data=data,
            params=params,
            prompts=prompts,
            outputs=outputs,
            scored=scored,
            scores=scores,
            batch=batch,
            started=started,
            wall=time.perf_counter() - t0,
            group_id=group_id,
            command=command,
            system_prompt=system_prompt,
            price=ctx.price,
            ready=ready,
            split=split,
            contamination=checks[adapter.name] if adapter else None,
            prompting=prompting,
        )
        record, samples = build_record(run)
        folder = None
        if ctx.runs_dir is not None:
            folder = Path(ctx.runs_dir) / record.run_id
            rec.write_run(folder, record, samples)
        results.append(EvalResult(record, samples, folder))
    return results


def new_group_id() -> str:
    """A fresh group id, shared by the records of one evaluation call."""
    return f"g-{dt.datetime.now(dt.timezone.utc):%Y%m%d-%H%M%S}-{secrets.token_hex(3)}"


def _prompts(
    task: Task, backend: Backend, dataset: Dataset, params: GenerationParams, ctx: RunContext
) -> tuple[Dataset, Fitted]:
    """Exemplars in one user turn or many, every prompt rendered, then checked against the
    context window (generation tasks: too long is an error unless ``--truncate-prompt``)."""
    multiturn = ctx.prompting.fewshot_as_multiturn
    samples = [replace(s, prompt=fewshot_form(s.prompt, multiturn)) for s in dataset.samples]
    dataset = Dataset(samples, dataset.info)
    prompts = [_render(task, backend, s) for s in samples]
    if task.mode != "generate":
        return dataset, Fitted(prompts)
    return dataset, fit_prompts(prompts, backend, params.max_new_tokens, ctx.prompting)


def _with_system(dataset: Dataset, system: str) -> Dataset:
    samples = [replace(s, prompt=s.prompt.with_system(system)) for s in dataset.samples]
    return Dataset(samples, dataset.info)


def _splitter(task: Task, backend: Backend, ctx: RunContext) -> Splitter:
    """The reasoning markers of this task on this backend (flag, task, model, template)."""
    if task.mode != "generate":
        return Splitter(None, "none")
    return resolve_splitter(
        ctx.reasoning,
        task.reasoning_markers,
        backend.reasoning_markers(),
        backend.chat_template_source(),
    )


def _split(
    task: Task,
    outputs: list[Output],
    batch: Batch,
    params: GenerationParams,
    prompts: list[Any],
    splitter: Splitter,
    backend: Backend,
) -> SplitStats | None:
    """Answers apart from thinking, before any scorer sees an output (generation tasks)."""
    if task.mode != "generate":
        return None
    return split_outputs(outputs, batch.results, params.n, prompts, splitter, backend.count_tokens)


def _collect(
    task: Task,
    backend: Backend,
    adapter: AdapterSpec | None,
    samples: list[Sample],
    fitted: Fitted,
    params: GenerationParams,
    ctx: RunContext,
    label: str,
    splitter: Splitter,
) -> tuple[list[Output], Batch]:
    """Runs the variant's requests and groups the answers per sample (a prompt too long for
    the context window is never sent: its requests are errors)."""
    prompts = fitted.prompts
    common: dict[str, Any] = {"cache": ctx.cache, "reporter": ctx.reporter, "label": label}
    if task.mode == "loglikelihood":
        index = [si for si, s in enumerate(samples) for _ in (s.choices or [])]
        requests = [r for si, s in enumerate(samples) for r in choice_requests(s, str(prompts[si]))]
        batch = run_requests(backend, adapter, ll_requests=requests, **common)
        outputs = [Output(choice_logprobs=[], choice_tokens=[]) for _ in samples]
        for si, res in zip(index, batch.results, strict=True):
            _add_choice(outputs[si], res)
        return outputs, batch
    index = [si for si in range(len(samples)) for _ in range(params.n)]
    sent = [si for si in index if si not in fitted.too_long]
    batch = run_requests(
        backend, adapter, prompts=[prompts[si] for si in sent], params=params, **common
    )
    if fitted.too_long:
        batch = _with_refused(batch, index, fitted.too_long)
    if any(s.followups for s in samples):  # multi-turn: the model's answers are fed back

        def generate(rendered: list[Any]) -> Batch:
            return run_requests(backend, adapter, prompts=rendered, params=params, **common)

        return converse(
            samples, batch, params.n, backend.render, generate, lambda t: splitter.split(t).answer
        )
    outputs = [Output() for _ in samples]
    for si, res in zip(index, batch.results, strict=True):
        if res.error is not None:
            outputs[si].errors.append(res.error)
        outputs[si].texts.append(res.text)
    return outputs, batch


def _with_refused(batch: Batch, index: list[int], refused: dict[int, str]) -> Batch:
    """The batch with an error result for every request of an item that was never sent."""
    answered = iter(batch.results)
    results = [
        RequestResult.failed("generate", refused[si]) if si in refused else next(answered)
        for si in index
    ]
    return Batch(results=results, model_s=batch.model_s)


def _render(task: Task, backend: Backend, sample: Sample) -> Any:
    """The prompt as sent: plain text where the task asks for it, else the backend's way."""
    return sample.prompt.text if task.chat_template is False else backend.render(sample.prompt)


def choice_requests(sample: Sample, context: str) -> list[LoglikelihoodRequest]:
    """One log-likelihood request per choice of ``sample``, after its rendered ``context``.

    Each choice is the scored continuation, except under partial scoring
    (``sample.continuation`` set, Winogrande): then each choice completes the context and the
    shared continuation is what is scored.
    """
    choices = sample.choices or []
    if sample.continuation is not None:
        return [LoglikelihoodRequest(context + c, sample.continuation) for c in choices]
    return [LoglikelihoodRequest(context, c) for c in choices]


def _add_choice(out: Output, res: RequestResult) -> None:
    assert out.choice_logprobs is not None and out.choice_tokens is not None
    if res.error is not None:
        out.errors.append(res.error)
    out.choice_logprobs.append(float("-inf") if res.logprob is None else float(res.logprob))
    out.choice_tokens.append(res.tokens_out)


def _score(
    task: Task, samples: list[Sample], outputs: list[Output], ctx: RunContext
) -> list[list[Score]]:
    """Per scorer, the score of every sample (none at all when no sample was answered)."""
    if not samples:
        return [[] for _ in task.scorers]
    return [scorer.score_all(samples, outputs, ctx) for scorer in task.scorers]


def with_overrides(params: GenerationParams, **overrides: Any) -> GenerationParams:
    """``params`` with the non-None overrides applied."""
    return replace(params, **{k: v for k, v in overrides.items() if v is not None})
