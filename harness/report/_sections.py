"""Report sections read from run folders: tokens, cost and time; drift; counterfactual probes.

Every report gets a table of what each run spent (model and judge tokens, the estimated cost
when a price was given, wall time, set-up and engine start). A run folder holding a
``drift.json`` (written by ``harness drift``, with ``drift_pca.png`` beside it) gets a drift
table and its PCA plot; a run with ``extra["counterfactual"]`` (from ``harness run
--counterfactual``) gets its paired change counts and score gaps per group. Sections are plain
tables, so the HTML and Markdown writers render them alike.
"""

from __future__ import annotations

import base64
from collections.abc import Sequence
from dataclasses import dataclass, field
from html import escape
from typing import Any


@dataclass
class Section:
    """A titled table (and optional PNG) in the report."""

    title: str
    columns: list[str]
    rows: list[list[str]]
    note: str = ""
    png: bytes | None = field(default=None, repr=False)


def run_sections(runs: Sequence[Any]) -> list[Section]:
    """The spending table, then the drift and counterfactual sections of the loaded runs
    (``path``, ``record``, ``label``, ``task``), in run order."""
    out: list[Section] = [spending_section(runs)] if runs else []
    for run in runs:
        drift = _drift_section(run)
        if drift is not None:
            out.append(drift)
        out += _counterfactual_sections(run)
    return out


def spending_section(runs: Sequence[Any]) -> Section:
    """One row per run: tokens (model, judge), estimated cost, wall, set-up and engine time."""
    rows = []
    for run in runs:
        u, t = run.record.usage, run.record.timing
        rows.append(
            [
                run.record.run_id,
                run.label,
                run.task,
                _calls(run.record),
                f"{u.model_tokens_in:,} / {u.model_tokens_out:,}",
                _pair(u.judge_tokens_in, u.judge_tokens_out),
                _pair(u.ragas_tokens_in, u.ragas_tokens_out),
                f"{u.cost:.4f}" if u.cost is not None else "–",
                _seconds(t.wall_s),
                _seconds(t.setup_s),
                _seconds(t.engine_start_s),
                f"{t.tokens_per_s:.1f} tok/s" if t.tokens_per_s is not None else "–",
            ]
        )
    return Section(
        "Tokens, cost and time",
        [
            "run",
            "model",
            "task",
            "calls model / judge / ragas",
            "model tokens in / out",
            "judge tokens in / out",
            "ragas tokens in / out",
            "cost",
            "wall",
            "set-up",
            "engine start",
            "generated",
        ],
        rows,
        note="calls: requests the run needed from the model (cached ones included), and "
        "those its LLM-as-judge and RAGAS scorers sent (cache hits excluded); – where none. "
        "cost: the model tokens of every request (cached answers included) at the run's "
        "--price-per-1k-tokens; – where no price was given. Set-up and engine start come "
        "before the first request and are not part of the wall time.",
    )


def _calls(record: Any) -> str:
    """``model / judge / ragas`` request counts, ``–`` for a purpose the run did not use."""
    u = record.usage
    judge, ragas = (("–" if v is None else f"{v:,}") for v in (u.judge_calls, u.ragas_calls))
    return f"{record.counts.requests:,} / {judge} / {ragas}"


def _pair(a: int | None, b: int | None) -> str:
    return f"{a:,} / {b:,}" if a is not None and b is not None else "–"


def _seconds(value: float | None) -> str:
    return f"{value:.1f} s" if value is not None else "–"


def _drift_section(run: Any) -> Section | None:
    from harness.drift import DRIFT_FILE, PCA_FILE, read_drift

    path = run.path / DRIFT_FILE
    if not path.is_file():
        return None
    try:
        rec = read_drift(path)
    except (ValueError, OSError) as e:
        return Section(f"Drift ({run.label})", [], [], note=f"{path}: unreadable ({e})")
    png = run.path / PCA_FILE
    return Section(
        f"Drift: {rec.b.source} (n={rec.b.n}) against {rec.a.source} (n={rec.a.n})",
        ["statistic", "value", "p", f"drift (p < {rec.alpha:g})", "test"],
        [
            [
                s.name,
                f"{s.statistic:.4g}",
                f"{s.p_value:.3g}",
                "yes" if s.significant else "no",
                s.test,
            ]
            for s in rec.stats
        ],
        note=f"run {run.record.run_id}; embeddings: {rec.embedder or 'none'}",
        png=png.read_bytes() if png.is_file() else None,
    )


def _counterfactual_sections(run: Any) -> list[Section]:
    cf = run.record.extra.get("counterfactual")
    if not cf:
        return []
    rows = []
    for group, st in {**cf["groups"], "all groups": cf["all"]}.items():
        rate = st["change_rate"]
        gap = st.get("score_gap") or {}
        rows.append(
            [
                group,
                str(st["pairs"]),
                str(st["changed"]),
                _interval(rate.get("value"), rate.get("ci_low"), rate.get("ci_high")),
                f"{gap['baseline']:.3f} → {gap['candidate']:.3f}" if gap else "–",
                _interval(gap.get("delta"), gap.get("ci_low"), gap.get("ci_high")),
                f"{gap['p_value']:.3g}" if gap else "–",
                str(gap.get("test", "–")),
            ]
        )
    return [
        Section(
            f"Counterfactual ({cf['swap_list']}): {run.label} on {run.task}",
            [
                "group",
                "pairs",
                "answers changed",
                "change rate [95%]",
                f"{cf['metric']} original → swapped",
                "gap [95%]",
                "p",
                "test",
            ],
            rows,
            note=f"run {run.record.run_id}",
        )
    ]


def _interval(value: float | None, lo: float | None, hi: float | None) -> str:
    if value is None:
        return "–"
    if lo is None or hi is None:
        return f"{value:.3f}"
    return f"{value:.3f} [{lo:.3f}, {hi:.3f}]"


def sections_html(sections: Sequence[Section]) -> str:
    """The sections as HTML (empty when there are none)."""
    parts = []
    for s in sections:
        head = "".join(f"<th>{escape(c)}</th>" for c in s.columns)
        body = "".join(
            "<tr>" + "".join(f"<td>{escape(v)}</td>" for v in row) + "</tr>" for row in s.rows
        )
        img = (
            f'<figure><img alt="PCA of the embeddings" '
            f'src="data:image/png;base64,{base64.b64encode(s.png).decode()}"></figure>'
            if s.png
            else ""
        )
        parts.append(
            f'<h2 class="section">{escape(s.title)}</h2><p class="muted">{escape(s.note)}</p>'
            f'<div class="scroll"><table class="sortable"><thead><tr>{head}</tr></thead>'
            f"<tbody>{body}</tbody></table></div>{img}"
        )
    return "".join(parts)


def sections_markdown(sections: Sequence[Section]) -> list[str]:
    """The sections as Markdown lines (none when there are none)."""
    out: list[str] = []
    for s in sections:
        out += ["", f"## {s.title}", "", s.note, ""]
        if s.columns:
            out += ["| " + " | ".join(s.columns) + " |", "|" + " --- |" * len(s.columns)]
            out += ["| " + " | ".join(v.replace("|", "\\|") for v in row) + " |" for row in s.rows]
    return out
