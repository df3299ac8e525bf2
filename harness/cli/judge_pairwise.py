"""``harness judge-pairwise RUN_A RUN_B``: which run's answers does the judge prefer?"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from harness.cli._common import resolve_runs_dir
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
@click.option(
    "--multi-turn-template",
    default=None,
    help="Judge every turn of multi-turn items: the first with --template, later ones with "
    "this (e.g. FastChat's pair-v2-multi-turn as a template file).",
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
@click.option(
    "--record",
    is_flag=True,
    help="Write a run record (RUN_A judged against RUN_B: win_rate, lc_win_rate, ...) into "
    "the runs folder, for `harness report` and `harness gate`.",
)
@click.option(
    "--runs-dir",
    type=click.Path(path_type=Path),
    default=None,
    help="With --record: where the run folder goes (default: $HARNESS_RUNS_DIR or ./runs).",
)
def judge_pairwise(
    run_a: Path,
    run_b: Path,
    template: str,
    multi_turn_template: str | None,
    limit: int | None,
    output: Path | None,
    as_json: bool,
    record: bool,
    runs_dir: Path | None,
    **judge_kw: Any,
) -> None:
    """Judge RUN_A's answers against RUN_B's, item by item, in both orders.

    The judge is shown each item's question as the task wrote it (its user turn), never the
    rendered chat prompt, and asked for the template's own verdict format.
    """
    from harness.cli._common import offline_defaults
    from judges.pairwise import judge_pairs, pairs_from_runs

    offline_defaults()
    if record and multi_turn_template:
        raise click.UsageError(
            "--multi-turn-template does not combine with --record (a record judges each "
            "item's last turn); drop one of them"
        )
    config = judge_config_from_options(judge_kw).validate()
    if record:
        from judges.pairwise_record import pairwise_run

        rec, folder = pairwise_run(
            run_a, run_b, config, template, resolve_runs_dir(runs_dir, write=True)
        )
        m = rec.metrics["win_rate"]
        click.echo(
            f"win_rate {m.value:.3f} [{m.ci_low:.3f}, {m.ci_high:.3f}] over {m.n} items "
            f"(ties half) · run: {folder}"
            if m.value is not None and m.ci_low is not None and m.ci_high is not None
            else f"no readable verdicts · run: {folder}"
        )
        return
    items = pairs_from_runs(run_a, run_b)[:limit]
    result = judge_pairs(items, config, template, multi_turn_template=multi_turn_template)
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
