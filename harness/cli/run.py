"""``harness run``: evaluate the base model and/or adapters on a task, write run records."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click

from harness.cli._common import (
    backend_options,
    model_options,
    offline_defaults,
    parse_task_params,
    resolve_runs_dir,
    runs_dir_option,
    set_execution_permissions,
)
from harness.cli._judge_options import apply_judge_options, judge_options


@click.command("run")
@click.option(
    "--task",
    "-t",
    "task_name",
    required=True,
    help="Task name (see `harness tasks`) or a task YAML file.",
)
@model_options
@click.option(
    "--adapter",
    "-a",
    "adapters",
    multiple=True,
    help="LoRA adapter folder or registered name (repeatable).",
)
@click.option(
    "--base/--no-base",
    "include_base",
    default=None,
    help="Also evaluate the base model (default: only when no --adapter).",
)
@click.option("--limit", "-n", type=int, default=None, help="Evaluate only the first N items.")
@click.option(
    "--seed",
    type=int,
    default=1234,
    show_default=True,
    help="Seed for few-shot choice and sampling.",
)
@click.option(
    "--num-fewshot", type=int, default=None, help="Few-shot exemplars (tasks that take them)."
)
@click.option("-T", "task_params", multiple=True, help="Task parameter key=value (repeatable).")
@click.option(
    "--data-dir",
    type=click.Path(path_type=Path),
    default=None,
    help="Folder with one sub-folder per dataset (or $HARNESS_DATA_DIR).",
)
@click.option("--split", default=None, help="Dataset split (default: the task's).")
@click.option("--max-new-tokens", type=int, default=None)
@click.option("--temperature", type=float, default=None)
@click.option("--samples", "n", type=int, default=None, help="Completions per item (pass@k).")
@runs_dir_option
@click.option(
    "--cache",
    "cache_path",
    type=click.Path(path_type=Path),
    default=None,
    help="Request cache file (default: $HARNESS_CACHE or ~/.cache/harness/requests.sqlite).",
)
@click.option("--no-cache", is_flag=True, help="Do not read or write the request cache.")
@click.option(
    "--allow-code-execution",
    is_flag=True,
    help="Let code tasks run model-written programs (inside the sandbox).",
)
@click.option(
    "--unsafe-no-sandbox",
    is_flag=True,
    help="DANGEROUS: run model-written code without the bubblewrap sandbox.",
)
@click.option(
    "--json", "as_json", is_flag=True, help="Print a JSON summary on stdout instead of the table."
)
@judge_options
def run(
    task_name: str,
    adapters: tuple[str, ...],
    include_base: bool | None,
    limit: int | None,
    seed: int,
    num_fewshot: int | None,
    task_params: tuple[str, ...],
    data_dir: Path | None,
    split: str | None,
    max_new_tokens: int | None,
    temperature: float | None,
    n: int | None,
    output_dir: Path | None,
    cache_path: Path | None,
    no_cache: bool,
    allow_code_execution: bool,
    unsafe_no_sandbox: bool,
    as_json: bool,
    **model_kw: Any,
) -> None:
    """Evaluate a model (and LoRA adapters) on a task, writing runs/<run-id>/."""
    offline_defaults()
    set_execution_permissions(allow_code_execution, unsafe_no_sandbox)
    apply_judge_options(model_kw)
    from harness import DataOptions, RequestCache, default_cache_path, get_task, with_overrides
    from harness._runner import evaluate
    from harness._ui import Reporter, RichReporter
    from harness.backends import build_backend
    from harness.lora import load_adapter

    params = parse_task_params(task_params)
    if num_fewshot is not None:
        params["num_fewshot"] = num_fewshot
    task = get_task(task_name, **params)
    task.preflight()  # fail before loading a model, not after generating
    specs = [load_adapter(a) for a in adapters]
    base = include_base if include_base is not None else not specs
    if not base and not specs:
        raise click.UsageError("--no-base without --adapter leaves nothing to evaluate")
    generation = with_overrides(
        task.generation, max_new_tokens=max_new_tokens, temperature=temperature, n=n, seed=seed
    )
    cache = None if no_cache else RequestCache(cache_path or default_cache_path())
    reporter = Reporter() if as_json else RichReporter()
    data = DataOptions(data_dir=data_dir, limit=limit, seed=seed, split=split)
    dataset = task.load(data)  # bad data fails before a model is loaded
    backend = build_backend(model_kw["backend"], **backend_options(model_kw))
    try:
        results = evaluate(
            task,
            backend,
            adapters=specs,
            include_base=base,
            data=data,
            dataset=dataset,
            generation=generation,
            cache=cache,
            runs_dir=resolve_runs_dir(output_dir),
            reporter=reporter,
        )
    except KeyboardInterrupt:
        done = len(cache) if cache is not None else 0
        click.echo(
            f"interrupted: completed answers are in the cache ({done} entries); "
            f"run the same command again to resume",
            err=True,
        )
        sys.exit(130)
    finally:
        server_log = getattr(backend, "server_log", None)  # gone once the server stops
        backend.close()
    _attach_server_log(server_log, results)
    if as_json:
        click.echo(json.dumps([_summary(r) for r in results], indent=2))
    else:
        _print_table(results)


def _attach_server_log(log: Path | None, results: list[Any]) -> None:
    """Copies the log of a server harness launched (vllm-server) into every run folder."""
    import shutil

    if log is None or not Path(log).is_file():
        return
    for res in results:
        if res.folder is not None:
            shutil.copyfile(log, res.folder / "server.log")


def _summary(result: Any) -> dict[str, Any]:
    r = result.record
    return {
        "run_id": r.run_id,
        "group_id": r.group_id,
        "folder": str(result.folder),
        "task": r.task.name,
        "model": r.model.id,
        "adapter": r.model.adapter.name if r.model.adapter else None,
        "metrics": {k: m.model_dump() for k, m in r.metrics.items()},
        "counts": r.counts.model_dump(),
        "timing": r.timing.model_dump(),
    }


def _print_table(results: list[Any]) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console()
    for res in results:
        r = res.record
        who = f"{r.model.id}" + (f" + {r.model.adapter.name}" if r.model.adapter else "")
        table = Table(title=f"{r.task.name} · {who} · n={r.counts.samples}")
        table.add_column("metric")
        table.add_column("value", justify="right")
        table.add_column("95% CI", justify="right")
        table.add_column("± stderr", justify="right")
        for name, m in r.metrics.items():
            ci = (
                f"[{m.ci_low:.3f}, {m.ci_high:.3f}]"
                if m.ci_low is not None and m.ci_high is not None
                else ""
            )
            table.add_row(
                name,
                "nan" if m.value is None else f"{m.value:.4f}",
                ci,
                "" if m.stderr is None else f"{m.stderr:.4f}",
            )
        console.print(table)
        t = r.timing
        console.print(
            f"  {r.counts.model_calls} model calls, {r.counts.cache_hits} cached, "
            f"{r.counts.errors} errors · {t.wall_s:.1f} s wall · "
            f"{t.tokens_per_s or 0:.1f} tok/s · run: {res.folder}"
        )
