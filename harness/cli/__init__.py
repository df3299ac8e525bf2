"""The ``harness`` command line: a click group whose subcommands load lazily.

Each subcommand lives in its own module and only parses arguments and delegates to the
library. ``COMMANDS`` maps names to ``"module:attr"`` so ``harness --help`` imports nothing
heavy. A `HarnessError` becomes a one-line message and exit code 2. The group reads harness's
environment variables once (`harness._settings.settings_from_env`) before any subcommand runs.
"""

from __future__ import annotations

import importlib
import sys
from typing import Any

import click

from harness._errors import HarnessError

COMMANDS: dict[str, tuple[str, str]] = {
    "run": ("harness.cli.run:run", "Evaluate a model (and LoRA adapters) on a task."),
    "tasks": ("harness.cli.tasks:tasks_cmd", "List the registered tasks."),
    "scorers": (
        "harness.cli.scorers:scorers_cmd",
        "List the registered scorers (parameters, metrics).",
    ),
    "train": (
        "harness.cli.train:train",
        "Train a LoRA adapter (bundled recipe); --eval compares it.",
    ),
    "adapters": ("harness.cli.adapters:adapters_cmd", "List the registered LoRA adapters."),
    "runs": ("harness.cli.runs:runs_cmd", "List, show, diff and delete stored runs."),
    "view": ("harness.cli.view:view", "Browse runs in a local web page (127.0.0.1)."),
    "report": ("harness.cli.report:report", "Leaderboard report (HTML + Markdown) from runs."),
    "gate": ("harness.cli.gate:gate", "Release gate: check runs against a YAML policy."),
    "rescore": (
        "harness.cli.rescore:rescore",
        "Re-score stored runs (new metrics) without a model or cache.",
    ),
    "baseline": ("harness.cli.baseline:baseline", "Promote runs to baselines the gate uses."),
    "judge-pairwise": (
        "harness.cli.judge_pairwise:judge_pairwise",
        "Judge two runs' answers against each other, in both orders.",
    ),
    "judge-agreement": (
        "harness.cli.judge_agreement:judge_agreement",
        "Cohen's kappa / Spearman between two runs' judge verdicts on the same outputs.",
    ),
    "serve": (
        "harness.cli.serve:serve",
        "Keep a judge/model vLLM server warm (start|status|stop).",
    ),
    "drift": (
        "harness.cli.drift:drift",
        "Data drift between two text samples (files, task splits, run outputs).",
    ),
    "cache": (
        "harness.cli.cache:cache_cmd",
        "Show the request cache by model and backend; prune or clear it.",
    ),
    "contamination": (
        "harness.cli.contamination:contamination",
        "Which test items are in training data (13-gram overlap, MinHash near-duplicates).",
    ),
    "parity": (
        "harness.cli.parity:parity",
        "HF vs vLLM greedy outputs; flags adapters with no effect.",
    ),
}


class LazyGroup(click.Group):
    """A group that imports a subcommand's module only when that subcommand runs."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name not in COMMANDS:
            return None
        module, _, attr = COMMANDS[name][0].partition(":")
        cmd: click.Command = getattr(importlib.import_module(module), attr)
        return cmd

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = [(name, COMMANDS[name][1]) for name in self.list_commands(ctx)]
        with formatter.section("Commands"):
            formatter.write_dl(rows)

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except HarnessError as e:
            click.echo(f"error: {e}", err=True)
            sys.exit(e.exit_code)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="harness-eval", prog_name="harness")
def cli() -> None:
    """harness: evaluate base models and LoRA adapters with evidence."""
    from harness._settings import settings_from_env, use_settings

    use_settings(settings_from_env())  # the environment is read here, once, and nowhere below


def main() -> None:
    """Console-script entry point."""
    cli(prog_name="harness")
