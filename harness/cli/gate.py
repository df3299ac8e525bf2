"""``harness gate``: decide a release with a YAML policy, from existing runs or fresh evals.

Exit codes: 0 every check passed; 1 a check failed (or was inconclusive under
``on_inconclusive: fail``); 2 usage or data error (bad policy, missing run or metric).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from harness._errors import HarnessError
from harness.cli._common import (
    backend_options,
    model_options,
    offline_defaults,
    resolve_runs_dir,
)
from harness.cli._tracking import log_to_option, tracker_specs

if TYPE_CHECKING:
    from harness.gate import GatePolicy, GateResult
    from harness.runstore import LoadedRun


@click.command("gate")
@click.option(
    "--policy",
    "policy_path",
    required=True,
    type=click.Path(path_type=Path),
    help="Gate policy YAML (see examples/gate.yaml).",
)
@click.option(
    "--candidate",
    "candidates",
    multiple=True,
    type=click.Path(path_type=Path),
    help="Candidate run folder, or a folder of runs (repeatable). Base-model runs "
    "found here are used as paired baselines.",
)
@click.option(
    "--baseline",
    "baselines",
    multiple=True,
    type=click.Path(path_type=Path),
    help="Baseline run folder(s); when given, candidates are compared with these "
    "only. Default: the paired base run, else the policy's `baseline`.",
)
@click.option("--adapter", default=None, help="Candidate adapter name when runs hold several.")
@click.option(
    "--eval-adapter",
    default=None,
    help="First evaluate the policy's tasks for the base model and this adapter "
    "folder in one engine; those runs become the candidates.",
)
@click.option("--limit", "-n", type=int, default=None, help="With --eval-adapter: items per task.")
@click.option("--seed", type=int, default=1234, show_default=True, help="With --eval-adapter.")
@click.option("--max-new-tokens", type=int, default=None, help="With --eval-adapter.")
@click.option(
    "--data-dir",
    type=click.Path(path_type=Path),
    default=None,
    help="With --eval-adapter: dataset folder (or $HARNESS_DATA_DIR).",
)
@click.option(
    "--output-dir",
    "-o",
    type=click.Path(path_type=Path),
    default=None,
    help="With --eval-adapter: where runs go (default: $HARNESS_RUNS_DIR or ./runs).",
)
@model_options
@click.option("--junit", type=click.Path(path_type=Path), help="Write JUnit XML here.")
@click.option(
    "--summary",
    type=click.Path(path_type=Path),
    help="Write the Markdown summary here (it is also appended to "
    "$GITHUB_STEP_SUMMARY when that is set).",
)
@click.option(
    "--report",
    "report_dir",
    type=click.Path(path_type=Path),
    help="Also write the HTML/Markdown report of the compared runs here.",
)
@click.option(
    "--summary-format",
    type=click.Choice(["markdown", "github"]),
    default="markdown",
    show_default=True,
    help="github: one table per task (base, candidate, Δ with interval, detectable Δ, "
    "verdict), failing checks first, sized for a step summary or pull-request comment.",
)
@log_to_option
def gate(
    policy_path: Path,
    candidates: tuple[Path, ...],
    baselines: tuple[Path, ...],
    adapter: str | None,
    junit: Path | None,
    summary: Path | None,
    report_dir: Path | None,
    summary_format: str,
    log_to: tuple[str, ...],
    **eval_kw: Any,
) -> None:
    """Check candidate runs against a policy: bounds, regressions, non-inferiority.

    Exit codes: 0 every check passed; 1 a check failed (or was inconclusive under
    on_inconclusive: fail); 2 usage or data error.

    Example: harness gate --policy examples/gate.yaml --candidate runs/ --junit gate.xml
    """
    from harness.gate import junit_error

    trackers = tracker_specs(log_to)
    try:
        result, runs = _decide(policy_path, candidates, baselines, adapter, eval_kw)
    except (HarnessError, click.UsageError) as e:
        message = e.format_message() if isinstance(e, click.UsageError) else str(e)
        _write(junit, junit_error(message))  # CI finds a JUnit file even on exit 2
        _write(summary, f"## harness gate: ERROR\n\n{message}\n", step_summary=True)
        raise
    _emit(result, junit, summary, summary_format)
    if report_dir:
        from harness.report import build_report, write_report

        write_report(build_report(runs), report_dir)
        click.echo(f"report: {report_dir / 'report.html'}")
    if trackers:
        from harness.tracking import log_gate

        files = [p for p in (junit, summary) if p] + (
            [report_dir / "report.html", report_dir / "report.md"] if report_dir else []
        )
        log_gate(trackers, result, policy_path, files)
    sys.exit(result.exit_code)


def _decide(
    policy_path: Path,
    candidates: tuple[Path, ...],
    baselines: tuple[Path, ...],
    adapter: str | None,
    eval_kw: dict[str, Any],
) -> tuple[GateResult, list[LoadedRun]]:
    """Loads the policy and runs (evaluating first with --eval-adapter) and decides.

    ``eval_kw`` holds the --eval-adapter options and the model options.
    """
    from harness import load_runs
    from harness.gate import evaluate as evaluate_gate
    from harness.gate import load_policy, run_candidate_evals

    policy = load_policy(policy_path)
    paths = list(candidates)
    eval_adapter = eval_kw.pop("eval_adapter")
    if eval_adapter:
        offline_defaults()
        run_kw = {k: eval_kw.pop(k) for k in ("limit", "seed", "data_dir", "max_new_tokens")}
        paths += run_candidate_evals(
            policy,
            eval_adapter,
            backend=eval_kw["backend"],
            backend_kw=backend_options(eval_kw),
            runs_dir=resolve_runs_dir(eval_kw.pop("output_dir"), write=True),
            **run_kw,
        )
        adapter = adapter or Path(eval_adapter).resolve().name
    if not paths:
        raise click.UsageError("give --candidate runs or --eval-adapter")
    cand_runs = load_runs(paths)
    base_runs = load_runs(baselines) if baselines else []
    if not baselines:
        cand_runs += _found_bases(cand_runs, policy)
    fallback_paths = [Path(p) for p in policy.baseline if Path(p).exists()]
    fallback = load_runs(fallback_paths) if fallback_paths and not baselines else []
    cand_paths = {c.path.resolve() for c in cand_runs}
    fallback = [r for r in fallback if r.path.resolve() not in cand_paths]
    result = evaluate_gate(policy, cand_runs, base_runs, fallback, adapter=adapter)
    seen: dict[Path, LoadedRun] = {}
    for run in cand_runs + base_runs + fallback:
        seen.setdefault(run.path.resolve(), run)
    return result, list(seen.values())


def _found_bases(cand_runs: list[LoadedRun], policy: GatePolicy) -> list[LoadedRun]:
    """The paired base runs found beside adapter candidates of tasks the policy compares
    with a baseline, each said in one line."""
    from harness.gate._paired_base import paired_bases

    compared = {
        c.task
        for c in policy.checks
        if c.max_regression is not None or c.non_inferiority_margin is not None
    }
    found = paired_bases([r for r in cand_runs if r.task in compared])
    for run in found:
        click.echo(
            f"baseline of {run.task}: {run.path} (the base-model run of group "
            f"{run.record.group_id}, found beside the candidate)"
        )
    return found


def _emit(
    result: GateResult, junit: Path | None, summary: Path | None, summary_format: str
) -> None:
    """Prints one line per check and the verdict; writes JUnit and the Markdown summary."""
    from harness.gate import to_github_markdown, to_junit, to_markdown

    for r in result.results:
        click.echo(f"{r.status.upper():<13} {r.task}: {r.name}: {r.reason}")
    verdict = "FAILED" if result.failed else "PASSED"
    skipped = f", {len(result.skipped)} let through as inconclusive" if result.skipped else ""
    click.echo(
        f"gate {verdict}: {len(result.results)} checks, {len(result.failed)} failing{skipped}"
    )
    _write(junit, to_junit(result))
    markdown = to_github_markdown if summary_format == "github" else to_markdown
    _write(summary, markdown(result), step_summary=True)


def _write(path: Path | None, text: str, step_summary: bool = False) -> None:
    """Writes ``text`` to ``path`` (if given); a summary also goes to $GITHUB_STEP_SUMMARY."""
    if path:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    target = os.environ.get("GITHUB_STEP_SUMMARY") if step_summary else None
    if target:
        with open(target, "a", encoding="utf-8") as f:
            f.write(text + "\n")
