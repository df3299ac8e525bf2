"""The front door: evaluate tasks on a model and its adapters, from names to run records.

`run_eval` resolves the tasks, runs every scorer's preflight, checks the adapters, selects the
items, and only then builds the backend (so a bad flag or a missing file fails in seconds, not
after a model load), evaluates every task on that one backend and closes it. ``harness run``,
``harness gate --eval-adapter``, ``harness train --eval`` and ``harness parity`` all call it.
"""

from __future__ import annotations

import shutil
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from harness._context import RunContext
from harness._data import DataOptions, Dataset
from harness._errors import HarnessError
from harness._generation import GenerationOverrides
from harness._loader import get_task, load_dataset
from harness._runner import EvalResult, evaluate, new_group_id
from harness._suite import SuiteTask
from harness._task import Task
from harness.backends import AdapterSpec, Backend, build_backend
from harness.lora import load_adapter

if TYPE_CHECKING:
    from harness.backends.ray_replicas import RayOptions

TaskRef = Task | str | SuiteTask


def run_eval(
    tasks: TaskRef | Sequence[TaskRef],
    *,
    backend: str | Backend = "hf",
    backend_options: Mapping[str, Any] | None = None,
    adapters: Sequence[str | AdapterSpec] = (),
    include_base: bool | None = None,
    task_params: Mapping[str, Any] | None = None,
    data: DataOptions | None = None,
    generation: GenerationOverrides | Mapping[str, Any] | None = None,
    system_prompt: str | None = None,
    context: RunContext | None = None,
    counterfactual: str | None = None,
    ray: RayOptions | None = None,
) -> list[EvalResult]:
    """Evaluates each task for the base model and every adapter, on one backend.

    Every record of one call shares a ``group_id``: variants of a task ran on identical items
    in one engine, and a suite's tasks ran together.

    Args:
        tasks: A task, a registered name or YAML file, a `SuiteTask` (its own parameters and
            item selection), or several of them.
        backend: A backend name (built here, closed at the end) or a built `Backend` (left
            open: the caller owns it).
        backend_options: Options for `build_backend` (``model``, ``batch_size``, ...).
        adapters: Adapter folders, registered names or specs.
        include_base: Evaluate the base model too (None: only when there are no adapters).
        task_params: Parameters for tasks given by name.
        data: Where data comes from and which items (``limit``, ``sample``); a `SuiteTask`'s
            own ``limit``/``sample`` apply where ``data`` sets neither.
        generation: Overrides of each task's generation parameters (a mapping's None
            values ignored; an unknown key fails here, before any model loads).
        system_prompt: The system turn of every prompt (replacing the task's), recorded.
        context: Cache, output folder, reporter, code execution, judge.
        counterfactual: A swap list (shipped name or YAML file): every item is evaluated
            beside its swapped variants (`harness.counterfactual`).
        ray: Run ``backend`` (a name) as Ray replicas (`harness.backends.ray_replicas`),
            started here and stopped at the end; None: one backend in this process.

    Returns:
        Per task, one result per variant (base first), in task order.

    Raises:
        HarnessError: Nothing to evaluate, an unknown task or option, bad data or adapter.
    """
    overrides = GenerationOverrides.of(generation)
    ctx = context or RunContext()
    data = data or DataOptions()
    refs = _as_list(tasks)
    built = [_task(t, task_params) for t in refs]
    for task in built:
        task.preflight(ctx)  # fail before loading a model, not after generating
    specs = [a if isinstance(a, AdapterSpec) else load_adapter(a) for a in adapters]
    base = include_base if include_base is not None else not specs
    if not base and not specs:
        raise HarnessError("--no-base without --adapter leaves nothing to evaluate")
    options = [_data_for(ref, data) for ref in refs]
    # bad data fails before a model
    datasets = [load_dataset(t, o) for t, o in zip(built, options, strict=True)]
    if counterfactual is not None:
        from harness.counterfactual import apply_counterfactual

        built, datasets = apply_counterfactual(built, datasets, counterfactual)
    engine, owned = _engine(backend, backend_options, ray)
    try:
        plan = _Plan(specs, base, overrides, system_prompt, new_group_id())
        results = _evaluate_all(built, datasets, options, engine, plan, ctx)
    finally:
        server_log = getattr(engine, "server_log", None)  # gone once the server stops
        if owned:
            engine.close()
    _attach_server_log(server_log, results)
    return results


@dataclass(frozen=True)
class _Plan:
    """What every task of one `run_eval` call shares."""

    adapters: list[AdapterSpec]
    base: bool
    generation: GenerationOverrides
    system_prompt: str | None
    group_id: str


def _engine(
    backend: str | Backend, options: Mapping[str, Any] | None, ray: RayOptions | None
) -> tuple[Backend, bool]:
    """The backend to evaluate on, and whether it is ours to close."""
    if isinstance(backend, Backend):
        if ray is not None:
            raise HarnessError("Ray replicas need a backend name, not a built backend")
        return backend, False  # the caller's: left open
    if ray is not None:
        from harness.backends.ray_replicas import RayReplicas

        return RayReplicas(backend, dict(options or {}), ray), True
    return build_backend(backend, **dict(options or {})), True


def _evaluate_all(
    tasks: list[Task],
    datasets: list[Dataset],
    options: list[DataOptions],
    engine: Backend,
    plan: _Plan,
    ctx: RunContext,
) -> list[EvalResult]:
    results: list[EvalResult] = []
    for task, dataset, data in zip(tasks, datasets, options, strict=True):
        results += evaluate(
            task,
            engine,
            adapters=plan.adapters,
            include_base=plan.base,
            data=data,
            dataset=dataset,
            generation=plan.generation.apply(task.generation),
            system_prompt=plan.system_prompt,
            group_id=plan.group_id,
            context=ctx,
        )
    return results


def _data_for(ref: TaskRef, data: DataOptions) -> DataOptions:
    """The command line's item selection, else a suite task's own."""
    if not isinstance(ref, SuiteTask) or data.limit is not None or data.sample is not None:
        return data
    return replace(data, limit=ref.limit, sample=ref.sample)


def _as_list(tasks: TaskRef | Sequence[TaskRef]) -> list[TaskRef]:
    if isinstance(tasks, (Task, str, SuiteTask)):
        return [tasks]
    return list(tasks)


def _task(ref: TaskRef, params: Mapping[str, Any] | None) -> Task:
    if isinstance(ref, Task):
        return ref
    if isinstance(ref, SuiteTask):
        return get_task(ref.task, **{**dict(params or {}), **ref.params})
    return get_task(ref, **dict(params or {}))


def _attach_server_log(log: Path | None, results: list[EvalResult]) -> None:
    """Copies the log of a server harness launched (vllm-server) into every run folder."""
    if log is None or not Path(log).is_file():
        return
    for res in results:
        if res.folder is not None:
            shutil.copyfile(log, res.folder / "server.log")
