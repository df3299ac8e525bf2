"""``harness judge-agreement RUN_A RUN_B``: do two judges agree on the same outputs?"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click


@click.command("judge-agreement")
@click.argument("run_a", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.argument("run_b", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option(
    "--scorer",
    default=None,
    help="The judge scorer to compare (default: the one judge scorer both runs carry).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
def judge_agreement(run_a: Path, run_b: Path, scorer: str | None, as_json: bool) -> None:
    """Cohen's kappa and Spearman between RUN_A's and RUN_B's judge verdicts, per sample id."""
    from judges.run_agreement import compare_judges

    result = compare_judges(run_a, run_b, scorer)
    if as_json:
        click.echo(json.dumps(result.to_dict(), indent=2))
        return
    what = "1-10 grades" if result.kind == "grade" else "pairwise verdicts (A / tie / B)"
    weights = "quadratic-weighted over labels 1-10" if result.kind == "grade" else "unweighted"
    click.echo(
        f"{result.task} · {result.scorer}: {what} on {result.n} shared outputs "
        f"({result.unreadable} without a readable verdict in both runs)"
    )
    click.echo(f"  cohen's kappa ({weights}): {_stat(result.kappa)}")
    click.echo(f"  spearman: {_stat(result.spearman)}")
    click.echo(f"  exact agreement: {100 * result.exact:.1f}%")


def _stat(m: Any) -> str:
    if m.value is None or m.value != m.value:
        return "undefined (one judge gave a single value throughout)"
    ci = "" if m.ci_low is None else f" [{m.ci_low:.3f}, {m.ci_high:.3f}] (bootstrap 95%)"
    return f"{m.value:.3f}{ci}"
