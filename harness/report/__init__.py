"""Leaderboard reports: a self-contained HTML page and a Markdown file from run folders.

``build_report(load_runs(paths))`` gathers the leaderboard, paired comparisons, per-item flips
and adapter loss curves; ``write_report`` writes ``report.html`` (plots inline as base64 PNG,
sorting and filtering in a few lines of inline script), ``report.md`` with ``plots/*.png`` and
``report.json`` (the comparison numbers and each run's tokens, cost and timing, for scripts).
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING

from harness.report._html import to_html
from harness.report._markdown import to_markdown
from harness.report._model import Report, build_report_model
from harness.report._paper import paper_tables
from harness.stats import detectable_name

if TYPE_CHECKING:
    from harness.runstore import LoadedRun

__all__ = ["Report", "build_report", "to_html", "to_markdown", "write_report"]


def build_report(runs: list[LoadedRun], title: str = "harness leaderboard") -> Report:
    """The report of ``runs``: leaderboard, comparisons, breakdowns and the paper table."""
    report = build_report_model(runs, title)
    report.paper = paper_tables(report)
    return report


def write_report(report: Report, out: Path) -> dict[str, Path]:
    """Writes ``report.html``, ``report.md``, ``report.json`` and ``plots/`` into ``out``.

    Returns:
        The written files by kind ("html", "markdown", "json").
    """
    from harness.report._plots import all_plots

    out.mkdir(parents=True, exist_ok=True)
    plots = all_plots(report)
    plot_dir = out / "plots"
    files: dict[str, str] = {}
    if plots:
        plot_dir.mkdir(exist_ok=True)
    for name, png in plots.items():
        fname = re.sub(r"[^A-Za-z0-9_.-]+", "_", name) + ".png"
        (plot_dir / fname).write_bytes(png)
        files[name] = f"plots/{fname}"
    paths = {
        "html": out / "report.html",
        "markdown": out / "report.md",
        "json": out / "report.json",
    }
    paths["html"].write_text(to_html(report, plots), encoding="utf-8")
    paths["markdown"].write_text(to_markdown(report, files), encoding="utf-8")
    summary = {
        "title": report.title,
        "created_at": report.created_at,
        "runs": report.runs,
        "leaderboard": [
            {
                "label": r.label,
                "adapter": r.adapter,
                "cells": {k: asdict(c) for k, c in r.cells.items()},
            }
            for r in report.rows
        ],
        "comparisons": [
            {
                "task": d.task,
                "metric": d.metric,
                "baseline": d.base_label,
                "candidate": d.cand_label,
                "pairing": d.comparison.label,
                "flips": d.flips_total,
                "corpus": d.comparison.corpus,
                "p": d.p_text,
                "minimal_detectable_effect": d.minimal_detectable_effect,
                "minimal_detectable_effect_is": detectable_name(),
                "result": d.comparison.result.to_dict(),
            }
            for d in report.deltas
        ],
        "notes": report.notes,
    }
    paths["json"].write_text(json.dumps(summary, indent=2, default=str), encoding="utf-8")
    return paths
