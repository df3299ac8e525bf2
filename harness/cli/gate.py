"""``harness gate``: decide a release from existing runs with a YAML policy.

Exit codes: 0 every check passed; 1 a check failed (or was inconclusive under
``on_inconclusive: fail``); 2 usage or data error (bad policy, missing run or metric).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import click


@click.command("gate")
@click.option("--policy", "policy_path", required=True, type=click.Path(path_type=Path),
              help="Gate policy YAML (see examples/gate.yaml).")
@click.option("--candidate", "candidates", multiple=True, required=True,
              type=click.Path(path_type=Path),
              help="Candidate run folder, or a folder of runs (repeatable). Base-model runs "
                   "found here are used as paired baselines.")
@click.option("--baseline", "baselines", multiple=True, type=click.Path(path_type=Path),
              help="Baseline run folder(s); default: the policy's `baseline` "
                   "(runs/baselines).")
@click.option("--adapter", default=None, help="Candidate adapter name when runs hold several.")
@click.option("--junit", type=click.Path(path_type=Path), help="Write JUnit XML here.")
@click.option("--summary", type=click.Path(path_type=Path),
              help="Write the Markdown summary here (it is also appended to "
                   "$GITHUB_STEP_SUMMARY when that is set).")
@click.option("--report", "report_dir", type=click.Path(path_type=Path),
              help="Also write the HTML/Markdown report of the compared runs here.")
def gate(policy_path: Path, candidates: tuple[Path, ...], baselines: tuple[Path, ...],
         adapter: str | None, junit: Path | None, summary: Path | None,
         report_dir: Path | None) -> None:
    """Check candidate runs against a policy: minimums, regressions, non-inferiority.

    Example: harness gate --policy examples/gate.yaml --candidate runs/<run-id> --junit gate.xml
    """
    from harness._runset import load_runs
    from harness.gate import evaluate as evaluate_gate
    from harness.gate import load_policy, to_junit, to_markdown

    policy = load_policy(policy_path)
    cand_runs = load_runs(candidates)
    base_paths = list(baselines) or [Path(p) for p in policy.baseline if Path(p).exists()]
    base_runs = load_runs(base_paths) if base_paths else []
    result = evaluate_gate(policy, cand_runs, base_runs, adapter=adapter)

    for r in result.results:
        click.echo(f"{r.status.upper():<13} {r.task}: {r.name}: {r.reason}")
    verdict = "FAILED" if result.failed else "PASSED"
    click.echo(f"gate {verdict}: {len(result.results)} checks, {len(result.failed)} failing")

    md = to_markdown(result)
    if junit:
        junit.parent.mkdir(parents=True, exist_ok=True)
        junit.write_text(to_junit(result), encoding="utf-8")
    if summary:
        summary.parent.mkdir(parents=True, exist_ok=True)
        summary.write_text(md, encoding="utf-8")
    step_summary = os.environ.get("GITHUB_STEP_SUMMARY")
    if step_summary:
        with open(step_summary, "a", encoding="utf-8") as f:
            f.write(md + "\n")
    if report_dir:
        from harness.report import build_report, write_report

        write_report(build_report(cand_runs + base_runs), report_dir)
        click.echo(f"report: {report_dir / 'report.html'}")
    sys.exit(result.exit_code)
