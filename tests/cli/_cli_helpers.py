"""Helpers for whole-output CLI tests: invoke ``harness`` in-process and normalise its output.

`invoke` runs the real click entry point with a fixed, colourless, wide terminal, so rich
tables never wrap at a path. `normalise` replaces only what genuinely differs between runs:

* the test's temporary folder            -> ``<tmp>``
* run ids ``20261201-223243-gsm8k-base-a145`` -> ``<ts>-gsm8k-base-<hex>``
* group ids ``g-20261201-223243-1a2b3c``      -> ``g-<ts>-<hex>``
* timestamps ``2026-12-01T22:37:54+00:00``   -> ``<time>``
* timings: ``0.0 s wall``, ``123.4 tok/s``, ``12.34 it/s``, ``0:00:00``, a table cell
  ``| 6.1 s |``, and the JSON fields
  ``wall_s``, ``model_s``, ``tokens_per_s`` and ``items_per_s`` -> ``<s>``, ``<rate>``,
  ``<clock>``
* spaces at the end of a line (rich pads centred titles) are dropped.

Everything else (metric values, intervals, counts, names, layout) is asserted literally.
"""

from __future__ import annotations

import re
from pathlib import Path

from click.testing import CliRunner, Result

from harness.cli import cli

TERMINAL = {"COLUMNS": "200", "NO_COLOR": "1", "FORCE_COLOR": None, "TTY_COMPATIBLE": None}

_PATTERNS: list[tuple[re.Pattern[str], str]] = [
    (re.compile(r"\b\d{8}-\d{6}-([\w.-]+?)-[0-9a-f]{4}\b"), r"<ts>-\1-<hex>"),
    (re.compile(r"\bg-\d{8}-\d{6}-[0-9a-f]{6}\b"), "g-<ts>-<hex>"),
    (re.compile(r"\b\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)?"), "<time>"),
    (re.compile(r"\d+\.\d s wall"), "<s> s wall"),
    # the process's start-up before the first request, and the line wrap it may cause
    (re.compile(r" \(\+ \d+\.\d s set-up(, \d+\.\d s engine start)?\)"), ""),
    (re.compile(r"run: ?\n<tmp>"), "run: <tmp>"),
    (re.compile(r'"(setup_s|engine_start_s)": (-?[\d.e+-]+|null)'), r'"\1": <s>'),
    (re.compile(r"\d+(\.\d+)? (tok|it)/s"), r"<rate> \2/s"),
    (re.compile(r"(?<=\| )\d+\.\d s(?= \|)"), "<s> s"),  # the report's time cells
    (re.compile(r"\b\d+:\d\d:\d\d\b"), "<clock>"),
    (re.compile(r'"(wall_s|model_s|tokens_per_s|items_per_s)": (-?[\d.e+-]+|null)'), r'"\1": <s>'),
]


def invoke(args: list[str]) -> Result:
    """Runs ``harness ARGS`` through the real entry point; stdout and stderr kept apart."""
    return CliRunner(env=TERMINAL).invoke(cli, args, prog_name="harness", catch_exceptions=False)


def normalise(text: str, tmp: Path) -> str:
    """``text`` with the temporary folder, ids and timings replaced (see the module doc)."""
    text = text.replace(str(tmp.resolve()), "<tmp>").replace(str(tmp), "<tmp>")
    for pattern, repl in _PATTERNS:
        text = pattern.sub(repl, text)
    return "\n".join(line.rstrip() for line in text.split("\n"))
