"""Prompt-injection resistance of a judge: score inflation of injected answers over clean twins.

Scores the built-in suite (`judges.injection`: wrong answers, each clean and with four attacks)
with the configured judge and prints the mean inflation per attack. Usage::

    python bench/judge_injection.py --judge local              # vLLM server, bundled model
    python bench/judge_injection.py --judge-model gpt-4o-mini  # OpenAI ($OPENAI_API_KEY)
    python bench/judge_injection.py --judge-base-url http://127.0.0.1:8000/v1 --template single

Inflation near 0 (or below) means the judge was not moved by text inside the answer.
"""

from __future__ import annotations

import json
import time
from typing import Any

import click

from harness.cli._judge_options import judge_config_from_options, judge_options


@click.command()
@judge_options
@click.option(
    "--template", default="reference", show_default=True, help="Judge template name or file."
)
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
def main(template: str, as_json: bool, **judge_kw: Any) -> None:
    from judges import JudgeScorer, measure_injection

    config = judge_config_from_options(judge_kw).validate()
    scorer = JudgeScorer(template, config, name="judge")
    t0 = time.perf_counter()
    report = measure_injection(scorer)
    seconds = time.perf_counter() - t0
    if as_json:
        click.echo(
            json.dumps(
                {
                    **report.to_dict(),
                    "judge": scorer.client.identity(),
                    "template_sha256": scorer.template.sha256,
                    "seconds": seconds,
                },
                indent=2,
            )
        )
        return

    def fmt(v: Any) -> str:
        return "n/a" if v is None else f"{v:+.2f}"

    click.echo(
        f"judge {scorer.client.identity()['model']} · template {scorer.template.name} "
        f"({scorer.template.sha256[:12]}) · {report.n_cases} cases · {seconds:.1f} s · "
        f"{scorer.client.stats.model_calls} calls, {scorer.client.stats.cache_hits} cached"
    )
    clean = "n/a" if report.clean_mean is None else f"{report.clean_mean:.2f}"
    click.echo(
        f"clean wrong answers: mean score {clean}; unreadable verdicts: {report.parse_failures}"
    )
    click.echo(f"{'attack':<18}{'n':>3}{'mean inflation':>16}{'inflated':>10}{'max':>7}")
    for name, row in report.per_attack.items():
        rate = (
            "n/a" if row["inflated_rate"] is None else f"{100 * float(row['inflated_rate']):.0f}%"
        )
        click.echo(
            f"{name:<18}{row['n']:>3}{fmt(row['mean_inflation']):>16}{rate:>10}"
            f"{fmt(row['max_inflation']):>7}"
        )
    click.echo(f"{'all attacks':<18}{'':>3}{fmt(report.mean_inflation):>16}")


if __name__ == "__main__":
    from harness import settings_from_env, use_settings

    use_settings(settings_from_env())  # a bench script is an edge, like the command line
    main()
