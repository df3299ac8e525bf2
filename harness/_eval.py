"""The front door: evaluate tasks on a model and its adapters, from names to run records.

`run_eval` resolves the tasks, runs every scorer's preflight, checks the adapters, selects the
items, and only then builds the backend (so a bad flag or a missing file fails in seconds, not
after a model load), evaluates every task on that one backend and closes it. ``harness run``,
``harness gate --eval-adapter``, ``harness train --eval`` and ``harness parity`` all call it.
"""

from __future__ import annotations

import shutil
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from harness._context import RunContext
from harness._data import DataOptions, Dataset
from harness._errors import HarnessError
from harness._loader import get_task, load_dataset
from harness._runner import EvalResult, evaluate, with_overrides
from harness._task import Task
from harness.backends import AdapterSpec, Backend, build_backend
from harness.lora import load_adapter

TaskRef = Task | str


def run_eval(
    tasks: TaskRef | Sequence[TaskRef],
    *,
    backend: str | Backend = "hf",
    backend_options: Mapping[str, Any] | None = None,
    adapters: Sequence[str | AdapterSpec] = (),
    include_base: bool | None = None,
    task_params: Mapping[str, Any] | None = None,
    data: DataOptions | None = None,
    generation: Mapping[str, Any] | None = None,
    context: RunContext | None = None,
    counterfactual: str | None = None,
) -> list[EvalResult]:
    """Evaluates each task for the base model and every adapter, on one backend.

    Args:
        tasks: A task, a registered name or YAML file, or several of them.
        backend: A backend name (built here, closed at the end) or a built `Backend` (left
            open: the caller owns it).
        backend_options: Options for `build_backend` (``model``, ``batch_size``, ...).
        adapters: Adapter folders, registered names or specs.
        include_base: Evaluate the base model too (None: only when there are no adapters).
        task_params: Parameters for tasks given by name.
        data: Where data comes from and which items (``limit``).
        generation: Overrides of each task's generation parameters (None values ignored).
        context: Cache, output folder, reporter, code execution, judge.
        counterfactual: A swap list (shipped name or YAML file): every item is evaluated
            beside its swapped variants (`harness.counterfactual`).

    Returns:
        Per task, one result per variant (base first), in task order.

    Raises:
        HarnessError: Nothing to evaluate, an unknown task or option, bad data or adapter.
    """
    ctx = context or RunContext()
    data = data or DataOptions()
    built = [_task(t, task_params) for t in _as_list(tasks)]
    for task in built:
        task.preflight(ctx)  # fail before loading a model, not after generating
    specs = [a if isinstance(a, AdapterSpec) else load_adapter(a) for a in adapters]
    base = include_base if include_base is not None else not specs
    if not base and not specs:
        raise HarnessError("--no-base without --adapter leaves nothing to evaluate")
    datasets = [load_dataset(task, data) for task in built]  # bad data fails before a model
    if counterfactual is not None:
        from harness.counterfactual import apply_counterfactual

        built, datasets = apply_counterfactual(built, datasets, counterfactual)
    if isinstance(backend, Backend):
        engine, owned = backend, False  # the caller's: left open
    else:
        engine, owned = build_backend(backend, **dict(backend_options or {})), True
    try:
        results = _evaluate_all(built, datasets, engine, specs, base, data, generation, ctx)
    finally:
        server_log = getattr(engine, "server_log", None)  # gone once the server stops
        if owned:
            engine.close()
    _attach_server_log(server_log, results)
    return results


def _evaluate_all(
    tasks: list[Task],
    datasets: list[Dataset],
    engine: Backend,
    specs: list[AdapterSpec],
    base: bool,
    data: DataOptions,
    generation: Mapping[str, Any] | None,
    ctx: RunContext,
) -> list[EvalResult]:
    results: list[EvalResult] = []
    for task, dataset in zip(tasks, datasets, strict=True):
        results += evaluate(
            task,
            engine,
            adapters=specs,
            include_base=base,
            data=data,
            dataset=dataset,
            generation=with_overrides(task.generation, **dict(generation or {})),
            context=ctx,
        )
    return results


def _as_list(tasks: TaskRef | Sequence[TaskRef]) -> list[TaskRef]:
    if isinstance(tasks, (Task, str)):
        return [tasks]
    return list(tasks)


def _task(ref: TaskRef, params: Mapping[str, Any] | None) -> Task:
    return ref if isinstance(ref, Task) else get_task(ref, **dict(params or {}))


def _attach_server_log(log: Path | None, results: list[EvalResult]) -> None:
    """Copies the log of a server harness launched (vllm-server) into every run folder."""
    if log is None or not Path(log).is_file():
        return
    for res in results:
        if res.folder is not None:
            shutil.copyfile(log, res.folder / "server.log")
