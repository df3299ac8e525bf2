"""``harness baseline promote``: copy runs into the baselines folder the gate compares with."""

from __future__ import annotations

from pathlib import Path

import click


@click.group("baseline")
def baseline() -> None:
    """Manage the baseline runs that `harness gate` compares candidates with."""


@baseline.command("promote")
@click.argument("runs", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option(
    "--to",
    "dest",
    type=click.Path(path_type=Path),
    default=Path("runs/baselines"),
    show_default=True,
    help="Baselines folder (the gate policy's `baseline`).",
)
def promote(runs: tuple[Path, ...], dest: Path) -> None:
    """Copy RUNS (run folders, or folders holding them) into the baselines folder.

    Each copy gets a baseline.json manifest: what was promoted, when, and from which commit.
    Only complete runs are promoted.

    Example: harness baseline promote runs/20261201-120000-gsm8k-base-1a2b
    """
    from harness import load_runs
    from harness._baseline import promote_run

    for run in load_runs(runs):
        folder = promote_run(run, dest)
        click.echo(f"promoted {run.record.run_id} ({run.label}, {run.task}) -> {folder}")
