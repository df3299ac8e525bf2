"""``harness parity``: HF vs vLLM greedy outputs on the same items, base and adapters."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click

from harness.cli._common import offline_defaults, parse_task_params


@click.command("parity")
@click.option("--task", "-t", "task_name", required=True, help="Task whose items are compared.")
@click.option("-T", "task_params", multiple=True, help="Task parameter key=value (repeatable).")
@click.option("--limit", "-n", type=int, default=10, show_default=True, help="Items to compare.")
@click.option(
    "--adapter",
    "-a",
    "adapters",
    multiple=True,
    help="LoRA adapter folder or registered name (repeatable).",
)
@click.option("--model", "-m", default=None, help="Base model (default: the bundled one).")
@click.option(
    "--backend",
    "other",
    default="vllm",
    show_default=True,
    help="Backend compared with hf: vllm or vllm-server.",
)
@click.option("--max-new-tokens", type=int, default=64, show_default=True)
@click.option(
    "--min-agreement",
    type=float,
    default=0.8,
    show_default=True,
    help="Exit 1 when any variant agrees on fewer items than this.",
)
@click.option(
    "--data-dir",
    type=click.Path(path_type=Path),
    default=None,
    help="Folder with one sub-folder per dataset (or $HARNESS_DATA_DIR).",
)
@click.option("--chat-template/--no-chat-template", default=None)
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
def parity(
    task_name: str,
    task_params: tuple[str, ...],
    limit: int,
    adapters: tuple[str, ...],
    model: str | None,
    other: str,
    max_new_tokens: int,
    min_agreement: float,
    data_dir: Path | None,
    chat_template: bool | None,
    as_json: bool,
) -> None:
    """Compare greedy outputs of the HF backend and a vLLM backend on the same items.

    Prints per variant (base, each adapter) how many items agree, and how many differ from
    the base on each backend; flags an adapter whose outputs equal the base's everywhere
    ("adapter had no effect"). Exits 1 on low agreement, a no-effect adapter or failed
    requests.
    """
    offline_defaults()
    from dataclasses import asdict, replace

    from harness import DataOptions, RunContext, get_task, resolve_model, run_eval
    from harness.parity import compare_backends, format_report

    if other not in ("vllm", "vllm-server"):
        raise click.UsageError("--backend must be vllm or vllm-server")
    task = get_task(task_name, **parse_task_params(task_params))
    resolved = resolve_model(model)
    greedy: dict[str, Any] = {"max_new_tokens": max_new_tokens, "temperature": 0.0, "n": 1}
    params = replace(task.generation, **greedy)
    # One backend at a time (never two models in memory), no cache, no run folders.
    runs = [
        run_eval(
            task,
            backend=name,
            backend_options={"resolved": resolved, "chat_template": chat_template},
            adapters=adapters,
            include_base=True,
            data=DataOptions(data_dir=data_dir, limit=limit),
            generation=greedy,
            context=RunContext(cache=None, runs_dir=None),
        )
        for name in ("hf", other)
    ]
    report = compare_backends(runs[0], runs[1], params)
    problems = report.failures(min_agreement)
    if as_json:
        click.echo(
            json.dumps(
                {
                    "task": task.name,
                    "model": resolved.id,
                    "variants": [asdict(v) for v in report.variants],
                    "problems": problems,
                },
                indent=2,
            )
        )
    else:
        title = (
            f"parity {task.name} · {resolved.id} · {report.n_items} items · greedy, "
            f"{max_new_tokens} new tokens · {report.backends[0]} vs {report.backends[1]}"
        )
        for line in format_report(report, title):
            click.echo(line)
        for p in problems:
            click.echo(f"problem: {p}")
    sys.exit(1 if problems else 0)
