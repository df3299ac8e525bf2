"""``harness run``: evaluate the base model and/or adapters on a task, write run records."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click

from harness.cli._common import (
    backend_options,
    code_execution,
    model_options,
    offline_defaults,
    parse_task_params,
    resolve_runs_dir,
    runs_dir_option,
)
from harness.cli._judge_options import judge_options, run_judge


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
@click.option(
    "--limit",
    "-n",
    type=click.IntRange(min=1),
    default=None,
    help="Evaluate only the first N items.",
)
@click.option(
    "--seed",
    type=int,
    default=1234,
    show_default=True,
    help="Seed for few-shot choice and sampling.",
)
@click.option(
    "--num-fewshot",
    type=click.IntRange(min=0),
    default=None,
    help="Few-shot exemplars (tasks that take them).",
)
@click.option("-T", "task_params", multiple=True, help="Task parameter key=value (repeatable).")
@click.option(
    "--data-dir",
    type=click.Path(path_type=Path),
    default=None,
    help="Folder with one sub-folder per dataset (or $HARNESS_DATA_DIR).",
)
@click.option("--split", default=None, help="Dataset split (default: the task's).")
@click.option("--max-new-tokens", type=click.IntRange(min=1), default=None)
@click.option("--temperature", type=click.FloatRange(min=0.0), default=None)
@click.option(
    "--samples",
    "n",
    type=click.IntRange(min=1),
    default=None,
    help="Completions per item (pass@k).",
)
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
    from harness import DataOptions, RequestCache, RunContext, default_cache_path, run_eval
    from harness._ui import Reporter, RichReporter

    params = parse_task_params(task_params)
    if num_fewshot is not None:
        params["num_fewshot"] = num_fewshot
    cache = None if no_cache else RequestCache(cache_path or default_cache_path())
    ctx = RunContext(
        code=code_execution(allow_code_execution, unsafe_no_sandbox),
        judge=run_judge(model_kw),
        cache=cache,
        runs_dir=resolve_runs_dir(output_dir),
        reporter=Reporter() if as_json else RichReporter(),
    )
    try:
        results = run_eval(
            task_name,
            backend=model_kw["backend"],
            backend_options=backend_options(model_kw),
            adapters=adapters,
            include_base=include_base,
            task_params=params,
            data=DataOptions(data_dir=data_dir, limit=limit, seed=seed, split=split),
            generation={
                "max_new_tokens": max_new_tokens,
                "temperature": temperature,
                "n": n,
                "seed": seed,
            },
            context=ctx,
        )
    except KeyboardInterrupt:
        done = len(cache) if cache is not None else 0
        click.echo(
            f"interrupted: completed answers are in the cache ({done} entries); "
            f"run the same command again to resume",
            err=True,
        )
        sys.exit(130)
    if as_json:
        click.echo(json.dumps([_summary(r) for r in results], indent=2))
    else:
        from harness.cli._paired import print_paired

        _print_table(results)
        print_paired(results)
    _exit_if_incomplete(results)


INCOMPLETE_EXIT = 3


def _exit_if_incomplete(results: list[Any]) -> None:
    """A run that did not fully happen says so in one line and exits with `INCOMPLETE_EXIT`."""
    bad = [r for r in results if r.record.status != "complete"]
    if not bad:
        return
    failed = sum(r.record.counts.errors for r in bad)
    total = sum(r.record.counts.requests for r in bad)
    first = next((e for r in bad for s in r.samples for e in s.errors), "unknown error")
    click.echo(
        f"error: {failed} of {total} requests failed (first: {first}); their items were not "
        f"scored and the run is recorded as incomplete; fix the cause and rerun the same "
        f"command (answered requests come from the cache)",
        err=True,
    )
    sys.exit(INCOMPLETE_EXIT)


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
        scored = sum(1 for s in res.samples if not s.errors)
        n = f"{scored}" if scored == r.counts.samples else f"{scored} of {r.counts.samples} scored"
        table = Table(title=f"{r.task.name} · {who} · n={n}")
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
            f"{r.counts.errors} failed · {t.wall_s:.1f} s wall · "
            f"{t.tokens_per_s or 0:.1f} tok/s · run: {res.folder}"
        )
