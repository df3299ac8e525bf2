"""``harness scorers``: every registered scorer with its parameters and metrics.

What a task file may name under ``metrics:`` (``{name: NAME, args: {...}}`` for the
parameters). Metric names with ``<name>`` / ``<k>`` / ``<label>`` take that argument's value.
A judge scorer also lists every ``{placeholder}`` it fills in a template (``N``: a turn number).
"""

from __future__ import annotations

import inspect
from typing import Any

import click

HIDDEN = {"self", "client", "config", "overrides", "schemas"}  # set by code, not by a task file


def describe(name: str, cls: Any) -> dict[str, Any]:
    """One scorer's row: name, one-line description, parameters (with defaults), metrics."""
    params = {}
    for p in list(inspect.signature(cls.__init__).parameters.values()):
        if p.name in HIDDEN or p.kind in (p.VAR_KEYWORD, p.VAR_POSITIONAL):
            continue
        params[p.name] = "required" if p.default is p.empty else repr(p.default)
    doc = (inspect.getdoc(cls) or "").split("\n")[0]
    row = {"name": name, "description": doc, "params": params, "metrics": list(cls.metrics)}
    if getattr(cls, "placeholders", None):  # judge scorers: what their templates may use
        row["placeholders"] = dict(cls.placeholders)
    return row


@click.command("scorers")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of text.")
def scorers_cmd(as_json: bool) -> None:
    """List the registered scorers with their parameters and metrics."""
    import json

    import harness.metrics  # noqa: F401  (registers the built-in metric scorers)
    from harness._scorer import scorers

    rows = [describe(name, cls) for name, cls in scorers.items()]
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    for r in rows:
        click.echo(f"{r['name']}: {r['description']}")
        params = ", ".join(f"{k}={v}" for k, v in r["params"].items()) or "none"
        click.echo(f"    params:  {params}")
        click.echo(f"    metrics: {', '.join(r['metrics']) or '(named by arguments)'}")
        for field, what in r.get("placeholders", {}).items():
            click.echo(f"    {{{field}}}: {what}")
