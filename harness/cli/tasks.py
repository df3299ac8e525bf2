"""``harness tasks``: list the registered tasks."""

from __future__ import annotations

import click


@click.command("tasks")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
def tasks_cmd(as_json: bool) -> None:
    """List the registered tasks with a one-line description."""
    import json

    from harness._task import tasks

    rows = [(name, tf.description) for name, tf in tasks.items()]
    if as_json:
        click.echo(json.dumps([{"name": n, "description": d} for n, d in rows], indent=2))
        return
    width = max((len(n) for n, _ in rows), default=0)
    for name, desc in rows:
        click.echo(f"{name.ljust(width)}  {desc}")
