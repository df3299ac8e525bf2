"""``harness adapters``: list the LoRA adapters ``harness train`` registered (and ./adapters/*)."""

from __future__ import annotations

import json

import click


@click.command("adapters")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
def adapters_cmd(as_json: bool) -> None:
    """List registered adapters: name, base model, data, steps, best eval loss, folder."""
    from harness.lora import list_adapters

    rows = list_adapters()
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    if not rows:
        click.echo(
            "no adapters yet; train one with `harness train --task viggo --out adapters/NAME`"
        )
        return
    for r in rows:
        loss = f"{r['best_eval_loss']:.4f}" if isinstance(r["best_eval_loss"], float) else "-"
        click.echo(
            f"{r['name']}\tbase={r['base_model'] or '-'}\tdata={r['data'] or '-'}\t"
            f"steps={r['steps'] if r['steps'] is not None else '-'}\teval_loss={loss}\t{r['path']}"
        )
