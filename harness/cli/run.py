"""``harness run``: evaluate the base model and/or adapters on tasks, write run records.

``--task`` takes a name, a task YAML file, a suite file, or several of them separated by
commas; every task runs on one backend (one engine start) and a run of several tasks ends
with one combined table. The tables themselves live in `harness.cli._run_output`.
"""

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
from harness.cli._judge_options import calibration_option, judge_options, run_judge
from harness.cli._prompt_options import context_fields, prompt_options
from harness.cli._run_output import print_combined, print_tables, summary
from harness.cli._scale_options import add_engine_args, engine_options, ray_choice, ray_options
from harness.cli._selection import (
    COUNT,
    parse_price,
    read_system_prompt,
)
from harness.cli._tracking import log_to_option, tracker_specs


@click.command("run")
@click.option(
    "--task",
    "-t",
    "task_name",
    required=True,
    help="Task name (see `harness tasks`), task YAML file or suite file; several: a,b,c.",
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
    type=COUNT,
    default=None,
    help="Evaluate only the first N items, or a fraction (0.1) of them.",
)
@click.option(
    "--sample",
    "sample",
    type=COUNT,
    default=None,
    help="Evaluate a random subset of N items (or a fraction), drawn with --seed.",
)
@click.option(
    "--seed",
    type=int,
    default=1234,
    show_default=True,
    help="Seed for few-shot choice, --sample and sampling.",
)
@click.option(
    "--system-prompt",
    default=None,
    help="System prompt for every item (TEXT, or @FILE to read it from a file).",
)
@click.option(
    "--price-per-1k-tokens",
    "price",
    default=None,
    metavar="IN,OUT",
    help="Endpoint price per 1,000 prompt,generated tokens: adds a cost estimate.",
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
    "-G",
    "generation_params",
    multiple=True,
    metavar="KEY=VALUE",
    help="Generation parameter (repeatable): max_new_tokens, temperature, top_p, stop, n, "
    "seed; over the dedicated flags.",
)
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
@click.option(
    "--counterfactual",
    default=None,
    metavar="SET",
    help="Also evaluate each item with the terms of swap list SET swapped (shipped: gender; "
    "or a YAML file); reports the answer-change rate and the paired score gap.",
)
@log_to_option
@prompt_options
@judge_options
@calibration_option
@engine_options
@ray_options
def run(
    task_name: str,
    adapters: tuple[str, ...],
    include_base: bool | None,
    limit: int | float | None,
    sample: int | float | None,
    seed: int,
    system_prompt: str | None,
    price: str | None,
    num_fewshot: int | None,
    task_params: tuple[str, ...],
    data_dir: Path | None,
    split: str | None,
    max_new_tokens: int | None,
    temperature: float | None,
    generation_params: tuple[str, ...],
    n: int | None,
    output_dir: Path | None,
    cache_path: Path | None,
    no_cache: bool,
    allow_code_execution: bool,
    unsafe_no_sandbox: bool,
    as_json: bool,
    counterfactual: str | None,
    log_to: tuple[str, ...],
    **model_kw: Any,
) -> None:
    """Evaluate a model (and LoRA adapters) on tasks, writing runs/<run-id>/."""
    offline_defaults()
    trackers = tracker_specs(log_to)
    from harness import DataOptions, RequestCache, RunContext, default_cache_path, run_eval
    from harness._generation import GenerationOverrides
    from harness._suite import parse_task_arg
    from harness._ui import Reporter, RichReporter

    flags = {"max_new_tokens": max_new_tokens, "temperature": temperature, "n": n, "seed": seed}
    generation = GenerationOverrides.of(
        {**flags, **parse_task_params(generation_params, flag="-G")}
    )  # a bad key fails here, before any model loads
    params = parse_task_params(task_params)
    if num_fewshot is not None:
        params["num_fewshot"] = num_fewshot
    runs_dir = resolve_runs_dir(output_dir, write=True)  # before anything is loaded or made
    cache = None if no_cache else RequestCache(cache_path or default_cache_path())
    ctx = RunContext(
        code=code_execution(allow_code_execution, unsafe_no_sandbox),
        judge=run_judge(model_kw, use_cache=not no_cache),
        cache=cache,
        runs_dir=runs_dir,
        reporter=Reporter() if as_json else RichReporter(),
        price=parse_price(price),
        **context_fields(model_kw),
    )
    suite = parse_task_arg(task_name)
    options = backend_options(model_kw)
    add_engine_args(model_kw["backend"], options, model_kw)
    try:
        results = run_eval(
            suite,
            backend=model_kw["backend"],
            backend_options=options,
            ray=ray_choice(model_kw),
            adapters=adapters,
            include_base=include_base,
            task_params=params,
            data=DataOptions(data_dir=data_dir, limit=limit, sample=sample, seed=seed, split=split),
            generation=generation,
            system_prompt=read_system_prompt(system_prompt),
            context=ctx,
            counterfactual=counterfactual,
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
        click.echo(json.dumps([summary(r) for r in results], indent=2))
    else:
        from harness.cli._paired import print_paired

        print_tables(results)
        print_paired(results)
        if len(suite) > 1:
            print_combined(results)
    if model_kw.get("judge_calibration") and not any(
        "judge_calibration" in r.record.extra for r in results
    ):
        click.echo("note: --judge-calibration: no judge scorer ran, nothing calibrated", err=True)
    if trackers:
        from harness.tracking import log_runs

        log_runs(trackers, [r.folder for r in results if r.folder is not None])
    _exit_if_incomplete(results)


INCOMPLETE_EXIT = 3


def _exit_if_incomplete(results: list[Any]) -> None:
    """A run that did not fully happen says so in one line and exits with `INCOMPLETE_EXIT`."""
    bad = [r for r in results if r.record.status != "complete"]
    if bad:
        click.echo(f"error: {_incomplete_reason(bad)}", err=True)
        sys.exit(INCOMPLETE_EXIT)


def _incomplete_reason(bad: list[Any]) -> str:
    """Why the runs are incomplete: a scorer's problem, a dead endpoint, or failed requests."""
    problems = [p for r in bad for p in r.record.scorer_problems]
    if problems and not any(r.record.counts.errors for r in bad):
        return f"run recorded as incomplete: {problems[0]}"
    failed = sum(r.record.counts.errors for r in bad)
    total = sum(r.record.counts.requests for r in bad)
    errors = [e for r in bad for s in r.samples for e in s.errors]
    aborted = next((e for e in errors if e.startswith("aborted: ")), None)
    if aborted is not None:  # the endpoint died: say so, not the first connection error
        return (
            f"{failed} of {total} requests failed and the run is recorded as "
            f"incomplete: {aborted.removeprefix('aborted: ')}"
        )
    first = errors[0] if errors else "unknown error"
    return (
        f"{failed} of {total} requests failed (first: {first}); their items were not "
        f"scored and the run is recorded as incomplete; fix the cause and rerun the same "
        f"command (answered requests come from the cache)"
    )
