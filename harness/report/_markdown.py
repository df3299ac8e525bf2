"""The Markdown report: leaderboard, comparisons, flips and notes, with plots as PNG files.

GitHub renders it in a pull request or a job summary; plots are referenced as files written
next to it (``plots/*.png``) because Markdown viewers rarely accept inline images.
"""

from __future__ import annotations

from harness.report._contamination import leaderboard_columns
from harness.report._forgetting import forgetting_markdown
from harness.report._model import Cell, Report
from harness.report._paper import paper_markdown
from harness.report._sections import sections_markdown
from harness.stats import detectable_name

MAX_FLIPS_MD = 20


def _md(text: str, width: int = 80) -> str:
    flat = " ".join(text.split()).replace("|", "\\|")
    return flat if len(flat) <= width else flat[: width - 1] + "…"


INCOMPLETE = " ⚠ incomplete"  # marks a cell whose run left failed requests unscored


def _cell(cell: Cell | None) -> str:
    if cell is None:
        return "–"
    mark = "" if cell.complete else INCOMPLETE
    if cell.value is None:
        return "–" + mark
    text = f"{cell.value:.3f}"
    if cell.ci_low is not None and cell.ci_high is not None:
        text += f" [{cell.ci_low:.3f}, {cell.ci_high:.3f}]"
    text += f" n={n_text(cell)} ⚠" if cell.sparse else f" n={n_text(cell)}"
    text += "".join(f" ({b.metric} {b.value:.3f})" for b in cell.badges)
    if cell.trivial is not None:
        text += f" (trivial {cell.trivial:.3f})"
    return text + (f" ⚠️ {cell.flag}" if cell.flag else "") + mark


def _board(report: Report, columns: list[tuple[str, str | None]]) -> list[str]:
    out = [
        "| model | " + " | ".join(h for h, _ in columns) + " |",
        "| --- |" + " --- |" * len(columns),
    ]
    for row in report.rows:
        cells = " | ".join(
            _cell(row.cells.get(h)) if task is None else row.contamination.get(task, "–")
            for h, task in columns
        )
        out.append(f"| {_md(row.label)} | {cells} |")
    return out


def n_text(cell: Cell) -> str:
    """``10`` or ``8/10`` (scored / evaluated) when some items were not scored."""
    if cell.n_evaluated is not None and cell.n_evaluated != cell.n:
        return f"{cell.n}/{cell.n_evaluated}"
    return str(cell.n)


def to_markdown(report: Report, plot_files: dict[str, str] | None = None) -> str:
    """Renders the report as Markdown; ``plot_files`` maps plot names to relative paths."""
    out = [
        f"# {report.title}",
        "",
        (
            f"Generated {report.created_at} from {len(report.runs)} runs. Values are means (or "
            "corpus scores) with 95% intervals and the n they were computed on; "
            f"{detectable_name()} is the smallest difference a comparison detects, as the "
            "gate defines it at its default alpha."
        ),
        "",
        *forgetting_markdown(report.forgetting),
        "## Leaderboard",
        "",
        *_board(report, leaderboard_columns(report, report.primary)),
    ]
    others = [c for c in report.columns if c not in report.primary]
    if others:
        out += ["", "### Other metrics", "", *_board(report, [(c, None) for c in others])]
    out += paper_markdown(report.paper)
    out += ["", "## Adapter vs base", ""]
    if report.deltas:
        out += [
            (
                "| task/metric | candidate | baseline | delta [95%] | p | "
                f"{detectable_name()} | n | "
                "test | pairing | right→wrong / wrong→right |"
            ),
            "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
        ]
        for d in report.deltas:
            r = d.comparison.result
            flips = d.flip_counts
            out.append(
                f"| {d.task}/{d.metric} | {_md(d.cand_label)} {r.candidate:.3f} | "
                f"{_md(d.base_label)} {r.baseline:.3f} | {r.delta:+.3f} "
                f"[{r.ci_low:+.3f}, {r.ci_high:+.3f}] | {d.p_text} | "
                f"{d.minimal_detectable_effect:.4g} | {r.n} | {r.test} | "
                f"{_md(d.comparison.label)} | {flips} |"
            )
    else:
        out.append("No adapter run had a base-model run to compare with.")
    for name, path in (plot_files or {}).items():
        out += ["", f"![{name}]({path})"]
    for d in report.deltas:
        if not d.flips:
            continue
        out += [
            "",
            (
                f"### Flips: {d.task}/{d.metric}, {_md(d.cand_label)} vs "
                f"{_md(d.base_label)} ({d.flips_total})"
            ),
            "",
            "| id | flip | target | baseline output | candidate output |",
            "| --- | --- | --- | --- | --- |",
        ]
        for f in d.flips[:MAX_FLIPS_MD]:
            out.append(
                f"| {_md(f.id, 30)} | {f.direction} | {_md(f.target, 40)} | "
                f"{_md(f.base_output, 60)} | {_md(f.cand_output, 60)} |"
            )
        if d.flips_total > MAX_FLIPS_MD:
            out.append(f"\n{d.flips_total - MAX_FLIPS_MD} more in report.html.")
    if report.curves:
        out += [
            "",
            "## Adapter training",
            "",
            ("| adapter | steps | last train loss | last eval loss |"),
            "| --- | --- | --- | --- |",
        ]
        for c in report.curves:
            tr = next((x for x in reversed(c.train_loss) if x is not None), None)
            ev = next((x for x in reversed(c.eval_loss) if x is not None), None)
            out.append(
                f"| {_md(c.label)} | {c.steps[-1]:g} | "
                f"{'–' if tr is None else f'{tr:.4f}'} | "
                f"{'–' if ev is None else f'{ev:.4f}'} |"
            )
    out += sections_markdown(report.sections)
    if report.notes:
        out += ["", "## Notes", ""] + [f"- {_md(n, 200)}" for n in report.notes]
    return "\n".join(out) + "\n"
