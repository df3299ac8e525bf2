"""``harness rescore``: score stored outputs again, without a model, a backend or the cache."""

from __future__ import annotations

import sys
from pathlib import Path

import click


@click.command("rescore")
@click.argument("runs", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option(
    "--scorer",
    "scorer_specs",
    multiple=True,
    metavar="NAME[:k=v,...]",
    help="Score with this registered scorer (repeatable; default: the scorers the run names).",
)
@click.option(
    "--output-dir",
    "-o",
    type=click.Path(path_type=Path),
    default=None,
    help="Where the new runs go (default: next to each source run).",
)
def rescore(runs: tuple[Path, ...], scorer_specs: tuple[str, ...], output_dir: Path | None) -> None:
    """Re-score RUNS (run folders, or folders holding them) from their stored outputs.

    Each new run names its source in run.json (extra.rescored_from); sources are untouched.

    Example: harness rescore runs/20261201-dialogsum-base-1a2b --scorer bleu --scorer chrf
    """
    from harness import load_runs
    from harness._rescore import parse_scorer
    from harness._rescore import rescore as rescore_run

    loaded = load_runs(runs)
    for run in loaded:
        scorers = [parse_scorer(s, run.record) for s in scorer_specs] or None
        out = output_dir or run.path.parent
        folder, seconds = rescore_run(run, scorers, out, ["harness", *sys.argv[1:]])
        n = sum(1 for s in run.samples if s.scores and not s.errors)
        rate = f"{n / seconds:,.0f} samples/s" if seconds > 0 else "instant"
        click.echo(f"{run.record.run_id}: {n} samples re-scored in {seconds:.2f} s ({rate})")
        click.echo(f"  run: {folder}")
