"""Report plots as PNG bytes: per-task metric bars with intervals, deltas, loss curves.

matplotlib is imported inside each function (Agg backend, no display) so importing the
report package stays cheap. Each function returns PNG bytes or None when there is nothing
to draw; the HTML writer embeds them as base64, the Markdown writer saves them as files.
"""

from __future__ import annotations

import io
from typing import Any

from harness.report._model import Report

_DPI = 110


def _figure(width: float, height: float) -> tuple[Any, Any]:
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(width, height), dpi=_DPI)
    return fig, ax


def _png(fig: Any) -> bytes:
    import matplotlib.pyplot as plt

    buf = io.BytesIO()
    fig.tight_layout()
    fig.savefig(buf, format="png")
    plt.close(fig)
    return buf.getvalue()


SCALES = ("0-1", "1-10", "0-100")


# sacrebleu's metrics are on 0-100 whatever a run scored (a weak model's BLEU may be 0.5).
_HUNDRED = ("bleu", "chrf", "ter")


def scale_of(values: list[float], metric: str = "") -> str:
    """Which axis a metric belongs on: 0-1 rates, 1-10 judge scores, 0-100 BLEU-like."""
    if metric.split("/")[-1].startswith(_HUNDRED):
        return "0-100"
    top = max((abs(v) for v in values), default=0.0)
    return "0-1" if top <= 1.0 else "1-10" if top <= 10.0 else "0-100"


def _column_scale(report: Report, col: str) -> str:
    vals = [
        v
        for r in report.rows
        if (c := r.cells.get(col)) is not None
        for v in (c.value, c.ci_high)
        if v is not None
    ]
    return scale_of(vals, col)


def bars_figure(report: Report, task: str, scale: str | None = None) -> tuple[Any, Any] | None:
    """The figure and axes of `task_bars` (None: nothing to draw), for checks of its layout."""
    cols = [
        c
        for c in report.primary
        if c.split("/", 1)[0] == task and (scale is None or _column_scale(report, c) == scale)
    ]
    rows = [r for r in report.rows if any(c in r.cells for c in cols)]
    if not cols or not rows:
        return None
    # each metric gets at least the width of its wrapped label (about 1.2 inch at 8 pt)
    fig, ax = _figure(max(4.5, len(cols) * max(1.3, 0.35 * len(rows)) + 1.5), 3.6)
    width = 0.8 / len(rows)
    for i, row in enumerate(rows):
        xs, ys, lo, hi, hatch = [], [], [], [], []
        for j, col in enumerate(cols):
            cell = row.cells.get(col)
            if cell is None or cell.value is None:
                continue
            xs.append(j + (i - (len(rows) - 1) / 2) * width)
            ys.append(cell.value)
            lo.append(max(0.0, cell.value - cell.ci_low) if cell.ci_low is not None else 0.0)
            hi.append(max(0.0, cell.ci_high - cell.value) if cell.ci_high is not None else 0.0)
            hatch.append("//" if cell.sparse else "")  # scored on under half the items
        bars = ax.bar(xs, ys, width=width * 0.95, yerr=[lo, hi], capsize=3, label=row.label)
        for bar, h in zip(bars, hatch, strict=True):
            bar.set_hatch(h)
    _x_labels(ax, [c.split("/", 1)[1] for c in cols])
    ax.set_title(f"{task}: metrics with 95% intervals" + (f" (scale {scale})" if scale else ""))
    if scale is not None:  # the whole scale, so that bars of one scale compare by eye
        ax.set_ylim(0, {"0-1": 1.0, "1-10": 10.0, "0-100": 100.0}[scale] * 1.05)
    ax.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.18), ncol=2)
    fig.tight_layout()
    return fig, ax


def _x_labels(ax: Any, names: list[str]) -> None:
    """Tick labels wrapped at 14 characters (after an underscore where one is), each column as
    wide as its label, so neighbours never overlap (tests/harness/test_report_plots.py
    checks their drawn boxes)."""
    import textwrap

    labels = [textwrap.fill(n.replace("_", "_ "), 14).replace("_ ", "_") for n in names]
    ax.set_xticks(range(len(names)), labels, fontsize=8)


def task_bars(report: Report, task: str, scale: str | None = None) -> bytes | None:
    """Grouped bars of ``task``'s primary metrics on one ``scale`` (None: all), one bar per
    row, with 95% intervals; hatched where a metric was scored on under half the items.
    Metrics on different scales never share an axis; rates are badges, never bars."""
    drawn = bars_figure(report, task, scale)
    return _png(drawn[0]) if drawn else None


def delta_plot(report: Report, scale: str | None = None) -> bytes | None:
    """Forest plot of candidate-minus-baseline differences of primary metrics on one
    ``scale``."""
    deltas = [
        d
        for d in report.deltas
        if f"{d.task}/{d.metric}" in report.primary  # rates are badges, never bars
        and (
            scale is None
            or scale_of([d.comparison.result.baseline, d.comparison.result.candidate], d.metric)
            == scale
        )
    ]
    if not deltas:
        return None
    fig, ax = _figure(6.5, 0.45 * len(deltas) + 1.3)
    labels = []
    for i, d in enumerate(deltas):
        r = d.comparison.result
        colour = {"worse": "tab:red", "better": "tab:green"}.get(d.verdict, "tab:gray")
        ax.errorbar(
            [r.delta],
            [i],
            xerr=[[max(0.0, r.delta - r.ci_low)], [max(0.0, r.ci_high - r.delta)]],  # rounding
            fmt="o",
            color=colour,
            capsize=3,
        )
        kind = "paired" if d.comparison.pairing.paired else "unpaired"
        labels.append(f"{d.task}/{d.metric}: {d.cand_label} ({kind})")
    ax.axvline(0, color="black", linewidth=0.8)
    ax.set_yticks(range(len(labels)), labels, fontsize=7)
    ax.invert_yaxis()
    ax.set_xlabel("candidate - baseline (95% interval)")
    ax.set_title("Adapter vs base" + (f" (scale {scale})" if scale else ""))
    return _png(fig)


def loss_plot(report: Report) -> bytes | None:
    """Training (solid) and evaluation (dashed) loss by step for each adapter."""
    if not report.curves:
        return None
    fig, ax = _figure(6.5, 3.2)
    for i, c in enumerate(report.curves):
        colour = f"C{i % 10}"
        for ys, style, kind in ((c.train_loss, "-", "train"), (c.eval_loss, "--", "eval")):
            pts = [(x, y) for x, y in zip(c.steps, ys, strict=True) if y is not None]
            if pts:
                ax.plot(
                    [p[0] for p in pts],
                    [p[1] for p in pts],
                    style,
                    color=colour,
                    marker="." if len(pts) < 30 else None,
                    label=f"{c.label} ({kind})",
                )
    ax.set_xlabel("step")
    ax.set_ylabel("loss")
    ax.set_title("Adapter loss curves")
    ax.legend(fontsize=7)
    return _png(fig)


def all_plots(report: Report) -> dict[str, bytes]:
    """Every plot of the report by file stem, in display order."""
    out: dict[str, bytes] = {}
    for task in sorted({c.split("/", 1)[0] for c in report.primary}):
        for scale in SCALES:
            png = task_bars(report, task, scale)
            if png:
                out[f"bars_{task}_{scale}"] = png
    for scale in SCALES:
        png = delta_plot(report, scale)
        if png:
            out[f"deltas_{scale}"] = png
    png = loss_plot(report)
    if png:
        out["loss"] = png
    return out
