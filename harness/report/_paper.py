"""The paper table: base vs each adapter on a task's primary metrics, ready to paste.

One table per task column: a row per model (value, 95% interval, n), and below each adapter
a Δ row with the paired (or, labelled so, unpaired) difference from its base run, its 95%
interval and p. `paper_html` and `paper_markdown` render the same `PaperTable`s.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from html import escape

from harness.report._model import Cell, Delta, Report


@dataclass
class PaperRow:
    """A model row (``cells``) or a Δ row (``deltas``: metric -> comparison with its base)."""

    label: str
    cells: dict[str, Cell] = field(default_factory=dict)
    deltas: dict[str, Delta] = field(default_factory=dict)

    @property
    def is_delta(self) -> bool:
        return not self.cells


@dataclass
class PaperTable:
    """A task column's primary metrics by model, with each adapter's Δ from its base."""

    task: str
    metrics: list[str]
    rows: list[PaperRow]


def paper_tables(report: Report) -> list[PaperTable]:
    """One `PaperTable` per task column that has primary metrics, in column order."""
    tasks = list(dict.fromkeys(c.split("/", 1)[0] for c in report.primary))
    out = []
    for task in tasks:
        metrics = [c.split("/", 1)[1] for c in report.primary if c.split("/", 1)[0] == task]
        rows: list[PaperRow] = []
        ordered = sorted(report.rows, key=lambda r: (r.adapter is not None, r.label))
        for row in ordered:
            cells = {m: row.cells[f"{task}/{m}"] for m in metrics if f"{task}/{m}" in row.cells}
            if not cells:
                continue
            rows.append(PaperRow(row.label, cells=cells))
            deltas = {
                d.metric: d
                for d in report.deltas
                if d.task == task and d.cand_label == row.label and d.metric in metrics
            }
            if deltas:
                base = next(iter(deltas.values())).base_label
                rows.append(PaperRow(f"Δ {row.label} − {base}", deltas=deltas))
        if rows:
            out.append(PaperTable(task, metrics, rows))
    return out


def cell_text(cell: Cell | None) -> str:
    """``0.613 [0.520, 0.700] n=120``; ``n=1/10 ⚠`` when under half the items were scored,
    `` ⚠ incomplete`` when the run left failed requests unscored."""
    if cell is None or cell.value is None:
        return "–"
    ci = f" [{cell.ci_low:.3f}, {cell.ci_high:.3f}]" if cell.ci_low is not None else ""
    n = f"n={cell.n}/{cell.n_evaluated} ⚠" if cell.sparse else f"n={cell.n}"
    return f"{cell.value:.3f}{ci} {n}" + ("" if cell.complete else " ⚠ incomplete")


def delta_text(d: Delta | None) -> str:
    """``+0.092 [+0.031, +0.150] p=0.004`` (``, unpaired`` when the items differ)."""
    if d is None:
        return "–"
    r = d.comparison.result
    kind = "" if d.comparison.pairing.paired else ", unpaired"
    return f"{r.delta:+.3f} [{r.ci_low:+.3f}, {r.ci_high:+.3f}] p={d.p_text}{kind}"


def _texts(row: PaperRow, metrics: list[str]) -> list[str]:
    if row.is_delta:
        return [delta_text(row.deltas.get(m)) for m in metrics]
    return [cell_text(row.cells.get(m)) for m in metrics]


NOTE = (
    "Values: mean (or corpus score) [95% interval] and n. Δ: adapter minus its base run, "
    "paired when both hold the same items, [95% interval] and two-sided p."
)


def paper_markdown(tables: list[PaperTable]) -> list[str]:
    """The paper tables as Markdown lines (none when there are none)."""
    if not tables:
        return []
    out = ["", "## Paper table", "", NOTE]
    for t in tables:
        out += ["", f"**{t.task}**", "", "| model | " + " | ".join(t.metrics) + " |"]
        out.append("| --- |" + " --- |" * len(t.metrics))
        for row in t.rows:
            label = f"*{row.label}*" if row.is_delta else row.label
            out.append(f"| {label} | " + " | ".join(_texts(row, t.metrics)) + " |")
    return out


def paper_html(tables: list[PaperTable]) -> str:
    """The paper tables as HTML (empty when there are none)."""
    if not tables:
        return ""
    parts = [f'<h2 id="paper-table">Paper table</h2><p class="muted">{escape(NOTE)}</p>']
    for t in tables:
        head = "".join(f"<th>{escape(m).replace('_', '_<wbr>')}</th>" for m in t.metrics)
        body = "".join(
            f'<tr class="{"delta" if row.is_delta else "model"}"><td>{escape(row.label)}</td>'
            + "".join(f'<td class="num">{escape(x)}</td>' for x in _texts(row, t.metrics))
            + "</tr>"
            for row in t.rows
        )
        parts.append(
            f'<table class="paper" data-task="{escape(t.task)}"><caption>{escape(t.task)}'
            f"</caption><thead><tr><th>model</th>{head}</tr></thead><tbody>{body}</tbody></table>"
        )
    return '<div id="paper">' + "".join(parts) + "</div>"
