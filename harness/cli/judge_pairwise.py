"""``harness judge-pairwise RUN_A RUN_B``: which run's answers does the judge prefer?"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from harness.cli._judge_options import judge_config_from_options, judge_options


@click.command("judge-pairwise")
@click.argument("run_a", type=click.Path(exists=True, path_type=Path))
@click.argument("run_b", type=click.Path(exists=True, path_type=Path))
@judge_options
@click.option(
    "--template",
    default="pairwise",
    show_default=True,
    help="Built-in template name or a template file (JSON/YAML with system+user, or text).",
)
@click.option("--limit", "-n", type=int, default=None, help="Judge only the first N shared items.")
@click.option(
    "--output",
    "-o",
    type=click.Path(path_type=Path),
    default=None,
    help="Write the full result (every verdict) as JSON here.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
def judge_pairwise(
    run_a: Path,
    run_b: Path,
    template: str,
    limit: int | None,
    output: Path | None,
    as_json: bool,
    **judge_kw: Any,
) -> None:
    """Judge RUN_A's answers against RUN_B's, item by item, in both orders."""
    from harness.cli._common import offline_defaults
    from judges.pairwise import judge_pairs, pairs_from_runs

    offline_defaults()
    config = judge_config_from_options(judge_kw).validate()
    items = pairs_from_runs(run_a, run_b)[:limit]
    result = judge_pairs(items, config, template)
    data = {"run_a": str(run_a), "run_b": str(run_b), **result.to_dict()}
    if output:
        output.write_text(json.dumps(data, indent=2), encoding="utf-8")
    if as_json:
        click.echo(json.dumps({k: v for k, v in data.items() if k != "verdicts"}, indent=2))
        return
    r = result.rates()

    def pct(v: float | None) -> str:
        return "n/a" if v is None else f"{100 * v:.1f}%"

    click.echo(
        f"judge: {result.judge.get('model')} · {result.n} items · template "
        f"{result.template_sha256[:12]}"
    )
    click.echo(
        f"A wins {result.wins_a} ({pct(r['win_rate_a'])}) · B wins {result.wins_b} "
        f"({pct(r['win_rate_b'])}) · ties {result.ties} ({pct(r['tie_rate'])})"
    )
    click.echo(
        f"consistent in both orders: {pct(r['consistency_rate'])} · position bias: "
        f"{pct(r['position_bias_rate'])} (first {result.first_position_bias}, second "
        f"{result.second_position_bias}) · unreadable: {result.parse_failures}"
    )
    if result.human_kappa:
        click.echo(f"agreement with human verdicts: kappa {result.human_kappa['value']:.3f}")
