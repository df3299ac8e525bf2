"""``harness train --eval``: score the base model and the new adapter (or fully fine-tuned
model) on the same test items.

Both variants go through the harness runner (same samples, same rendered prompts, one run
record each, sharing a group id), and the headline metrics are printed side by side with their
95% intervals.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, NamedTuple

from harness import DataOptions, RequestCache, RunContext, default_cache_path, run_eval


def _cell(m: object) -> str:
    value, lo, hi = (getattr(m, k, None) for k in ("value", "ci_low", "ci_high"))
    if value is None:
        return "-"
    ci = f" [{lo:.3f}, {hi:.3f}]" if lo is not None and hi is not None else ""
    return f"{value:.3f}{ci}"


class BaseVsAdapter(NamedTuple):
    """The side-by-side table and the two run folders it was read from."""

    text: str
    folders: list[Path]


def compare_base_and_adapter(
    task_name: str,
    model: str | None,
    adapter: Path,
    *,
    limit: int | None = 100,
    data_dir: Path | None = None,
    runs_dir: Path | None = Path("runs"),
    batch_size: int | None = None,
    seed: int = 1234,
    full_model: bool = False,
) -> BaseVsAdapter:
    """Evaluates base and adapter on the task's test items; returns a side-by-side table.

    With ``full_model``, ``adapter`` is a whole fine-tuned model folder, run as a second model.
    """
    options: dict[str, object] = {"model": model} if model else {}
    if batch_size:
        options["batch_size"] = batch_size
    common: dict[str, Any] = {
        "backend": "hf",
        "data": DataOptions(data_dir=data_dir, limit=limit, seed=seed),
        # The same parameters as `harness run`, so its cached answers are reused.
        "generation": {"seed": seed},
        "context": RunContext(cache=RequestCache(default_cache_path()), runs_dir=runs_dir),
    }
    if full_model:
        (base_res,) = run_eval(task_name, backend_options=options, **common)
        tuned = {**options, "model": str(adapter)}
        (adapter_res,) = run_eval(task_name, backend_options=tuned, **common)
    else:
        base_res, adapter_res = run_eval(
            task_name,
            backend_options=options,
            adapters=[str(adapter)],
            include_base=True,
            **common,
        )
    b, a = base_res.record, adapter_res.record
    adapter_name = a.model.adapter.name if a.model.adapter else str(adapter)
    names = list(b.metrics)
    width = max(len(n) for n in names) + 2
    lines = [
        f"{task_name}: n={b.counts.samples} test items, base vs adapter {adapter_name} (95% CI)",
        f"{'metric':<{width}}{'base':<26}{'adapter':<26}delta",
    ]
    for name in names:
        mb, ma = b.metrics[name], a.metrics.get(name)
        delta = None
        if ma is not None and ma.value is not None and mb.value is not None:
            delta = ma.value - mb.value
        lines.append(
            f"{name:<{width}}{_cell(mb):<26}{_cell(ma):<26}"
            + (f"{delta:+.3f}" if delta is not None else "-")
        )
    lines.append(f"runs: {base_res.folder}  {adapter_res.folder}")
    folders = [f for f in (base_res.folder, adapter_res.folder) if f is not None]
    return BaseVsAdapter("\n".join(lines), folders)
