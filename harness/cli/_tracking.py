"""``--log-to``: the option ``run``, ``train`` and ``gate`` share, parsed before any work."""

from __future__ import annotations

import importlib.util
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import click

if TYPE_CHECKING:
    from harness.tracking import TrackerSpec

_MODULE = {"mlflow": "mlflow", "wandb": "wandb"}


def log_to_option(fn: Callable[..., Any]) -> Callable[..., Any]:
    return click.option(
        "--log-to",
        "log_to",
        multiple=True,
        metavar="mlflow[:URI]|wandb[:PROJECT]",
        help="Also log to an experiment tracker (repeatable); a tracker that is down is "
        "reported on stderr and never fails the command.",
    )(fn)


def tracker_specs(values: tuple[str, ...]) -> list[TrackerSpec]:
    """Parses every ``--log-to`` (a bad value: exit 2 before anything runs); a client library
    that is not installed is said now, once, not after the evaluation."""
    from harness.tracking import parse_tracker

    specs = [parse_tracker(v) for v in values]
    for spec in specs:
        if importlib.util.find_spec(_MODULE[spec.kind]) is None:
            click.echo(
                f"warning: --log-to {spec}: {spec.kind} is not installed "
                f"(pip install 'harness-eval[tracking]'); nothing will be logged there",
                err=True,
            )
    return specs
