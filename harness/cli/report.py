"""``harness report``: leaderboard HTML + Markdown from run folders."""

from __future__ import annotations

from pathlib import Path

import click


@click.command("report")
@click.argument("runs", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option(
    "--out",
    "out_dir",
    required=True,
    type=click.Path(path_type=Path),
    help="Folder for report.html, report.md, report.json and plots/.",
)
@click.option("--title", default="harness leaderboard", show_default=True, help="Page title.")
def report(runs: tuple[Path, ...], out_dir: Path, title: str) -> None:
    """Build a leaderboard report from RUNS (run folders, or folders holding them).

    Example: harness report runs/ --out report/
    """
    from harness import load_runs
    from harness.report import build_report, write_report

    rep = build_report(load_runs(runs), title=title)
    paths = write_report(rep, out_dir)
    click.echo(f"{len(rep.runs)} runs, {len(rep.rows)} rows, {len(rep.deltas)} comparisons")
    for kind, path in paths.items():
        click.echo(f"{kind}: {path}")
