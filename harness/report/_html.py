"""The self-contained HTML report: one file, no network at view time.

Styles, script and plots (base64 PNG) are all inline. The leaderboard and comparison tables
sort by clicking a header and filter with the search box; flips can be narrowed to one
direction. Every value from a run is HTML-escaped.
"""

from __future__ import annotations

import base64
from html import escape

from harness.report._contamination import leaderboard_columns
from harness.report._forgetting import forgetting_html
from harness.report._markdown import n_text
from harness.report._model import Cell, Delta, Report
from harness.report._paper import paper_html
from harness.report._sections import sections_html
from harness.stats import detectable_name

_CSS = """
body{font:14px/1.45 system-ui,sans-serif;margin:24px;color:#1d232a;max-width:1340px}
.scroll{overflow-x:auto;max-width:100%}
h1{font-size:22px}h2{font-size:18px;margin-top:28px;border-bottom:1px solid #ddd}
table{border-collapse:collapse;margin:8px 0;font-size:13px}
th,td{border:1px solid #d6dbe0;padding:4px 6px;text-align:left;vertical-align:top}
th{background:#f1f4f7;cursor:pointer;user-select:none}
th.sorted-asc::after{content:" \\25B2"}th.sorted-desc::after{content:" \\25BC"}
td.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
.ci{color:#69727d;font-size:11px}.incomplete{color:#b3261e;font-size:11px}.bad{color:#b3261e;font-weight:600}
.good{color:#1e7b34;font-weight:600}.muted{color:#69727d}
pre{white-space:pre-wrap;margin:0;max-width:420px;font-size:12px}
img{max-width:100%;border:1px solid #eee;margin:6px 0}
#filter{padding:4px 8px;width:280px}details{margin:8px 0}
.tag{font-size:11px;padding:1px 6px;border-radius:8px;background:#e8eef5}
.badge{font-size:10px;padding:0 4px;border-radius:6px;background:#fdecea;color:#8a1c14;
  white-space:nowrap}
table.board td.num{white-space:normal;min-width:96px}table.board th{white-space:normal}
td.sparse{color:#69727d;background:#fafafa}
table.paper caption{text-align:left;font-weight:600}
table.paper tr.delta td{font-style:italic;background:#f7f9fb}
"""

# Nothing may load from anywhere: plots are data: URIs, style and script are inline.
_CSP = "default-src 'none'; img-src data:; style-src 'unsafe-inline'; script-src 'unsafe-inline'"

_JS = """
function cellKey(td){const v=td.getAttribute('data-value');
  if(v!==null&&v!==''&&!isNaN(parseFloat(v)))return [0,parseFloat(v)];
  return [1,td.textContent.trim().toLowerCase()];}
function sortTable(th){const table=th.closest('table');
  const idx=[...th.parentNode.children].indexOf(th);
  const asc=!th.classList.contains('sorted-asc');
  table.querySelectorAll('th').forEach(h=>h.classList.remove('sorted-asc','sorted-desc'));
  th.classList.add(asc?'sorted-asc':'sorted-desc');const body=table.tBodies[0];
  const rows=[...body.rows];rows.sort((a,b)=>{const x=cellKey(a.cells[idx]),y=cellKey(b.cells[idx]);
    if(x[0]!==y[0])return x[0]-y[0];const r=x[1]<y[1]?-1:x[1]>y[1]?1:0;return asc?r:-r;});
  rows.forEach(r=>body.appendChild(r));}
function applyFilter(){const q=document.getElementById('filter').value.toLowerCase();
  document.querySelectorAll('table.filterable tbody tr').forEach(tr=>{
    tr.style.display=tr.textContent.toLowerCase().includes(q)?'':'none';});}
function showFlips(sel){const dir=sel.value;sel.closest('details').querySelectorAll('tbody tr')
  .forEach(tr=>{tr.style.display=(!dir||tr.dataset.direction===dir)?'':'none';});}
document.querySelectorAll('table.sortable th')
  .forEach(th=>th.addEventListener('click',()=>sortTable(th)));
document.getElementById('filter').addEventListener('input',applyFilter);
document.querySelectorAll('select.flipdir').forEach(s=>s.addEventListener('change',()=>showFlips(s)));
"""


INCOMPLETE_HTML = (
    ' <span class="incomplete" title="incomplete run: failed requests were not scored">'
    "⚠ incomplete</span>"
)


def breakable(name: str) -> str:
    """``name`` escaped, with line-break opportunities after ``/`` and ``_`` (long metric and
    task names wrap instead of widening the table past the page)."""
    return escape(name).replace("/", "/<wbr>").replace("_", "_<wbr>")


def _badges_html(cell: Cell) -> str:
    out = ""
    if cell.sparse:
        out += (
            f' <span class="badge sparse" title="scored on fewer than half the items">'
            f"n={cell.n}/{cell.n_evaluated} ⚠</span>"
        )
    for b in cell.badges:
        name = escape(b.metric)
        out += f' <span class="badge" title="{name}">{name} {b.value:.3f}</span>'
    return out


def _cell_html(cell: Cell | None) -> str:
    mark = "" if cell is None or cell.complete else INCOMPLETE_HTML
    if cell is None or cell.value is None:
        return f'<td class="num" data-value="">–{mark}</td>'
    ci = ""
    if cell.ci_low is not None and cell.ci_high is not None:
        ci = f' <span class="ci">[{cell.ci_low:.3f}, {cell.ci_high:.3f}]</span>'
    title = f"n={n_text(cell)}, {cell.method}, run {cell.run_id}"
    extra = "" if cell.sparse else f' <span class="ci">n={n_text(cell)}</span>'
    if cell.trivial is not None:
        extra += f' <span class="ci">trivial {cell.trivial:.3f}</span>'
    if cell.flag:
        extra += f' <span class="bad">{escape(cell.flag)}</span>'
    cls = "num sparse" if cell.sparse else "num"
    return (
        f'<td class="{cls}" data-value="{cell.value:.6g}" title="{escape(title)}">'
        f"{cell.value:.3f}{ci}{extra}{_badges_html(cell)}{mark}</td>"
    )


def _board(report: Report, columns: list[tuple[str, str | None]], table_id: str) -> str:
    head = "".join(f"<th>{breakable(h)}</th>" for h, _ in columns)
    body = []
    for row in report.rows:
        cells = "".join(
            _cell_html(row.cells.get(h))
            if task is None
            else f"<td>{escape(row.contamination.get(task, '–'))}</td>"
            for h, task in columns
        )
        kind = "adapter" if row.adapter else "base"
        body.append(f'<tr><td>{escape(row.label)} <span class="tag">{kind}</span></td>{cells}</tr>')
    return (
        f'<div class="scroll"><table id="{table_id}" class="sortable filterable board"><thead>'
        f"<tr><th>model</th>{head}</tr></thead><tbody>{''.join(body)}</tbody></table></div>"
    )


def _leaderboard(report: Report) -> str:
    others = [c for c in report.columns if c not in report.primary]
    more = (
        f'<details id="more-metrics"><summary>{len(others)} more metrics</summary>'
        f"{_board(report, [(c, None) for c in others], 'leaderboard-more')}</details>"
        if others
        else ""
    )
    return _board(report, leaderboard_columns(report, report.primary), "leaderboard") + more


def _comparisons(report: Report) -> str:
    if not report.deltas:
        return '<p class="muted">No adapter run had a base-model run to compare with.</p>'
    rows = []
    for d in report.deltas:
        r = d.comparison.result
        cls = {"worse": "bad", "better": "good"}.get(d.verdict, "")
        flips = d.flip_counts
        rows.append(
            f"<tr><td>{escape(d.task)}</td><td>{escape(d.metric)}</td><td>{escape(d.cand_label)}"
            f"</td><td>{escape(d.base_label)}</td>"
            f'<td class="num" data-value="{r.baseline:.6g}">{r.baseline:.3f}</td>'
            f'<td class="num" data-value="{r.candidate:.6g}">{r.candidate:.3f}</td>'
            f'<td class="num {cls}" data-value="{r.delta:.6g}">{r.delta:+.3f} <span class="ci">'
            f"[{r.ci_low:+.3f}, {r.ci_high:+.3f}]</span></td>"
            f'<td class="num" data-value="{r.p_value:.6g}">{escape(d.p_text)}</td>'
            f'<td class="num">{d.minimal_detectable_effect:.4g}</td>'
            f"<td>{escape(r.test)}</td><td>{escape(d.comparison.label)}</td>"
            f'<td class="num" data-value="{r.n}">{r.n}</td><td class="num">{flips}</td></tr>'
        )
    head = "".join(
        f"<th>{h}</th>"
        for h in (
            "task",
            "metric",
            "candidate",
            "baseline",
            "baseline value",
            "candidate value",
            "delta [95%]",
            "p",
            detectable_name(),
            "test",
            "pairing",
            "n",
            "right→wrong / wrong→right",
        )
    )
    return (
        f'<div class="scroll"><table id="comparisons" class="sortable filterable"><thead><tr>'
        f"{head}</tr></thead><tbody>{''.join(rows)}</tbody></table></div>"
    )


def _flips(d: Delta, first: bool = False) -> str:
    rows = "".join(
        f'<tr data-direction="{f.direction}"><td>{escape(f.id)}</td>'
        f'<td class="{"bad" if f.direction == "right->wrong" else "good"}">'
        f"{escape(f.direction)}</td><td><pre>{escape(f.prompt[-600:])}</pre></td>"
        f"<td><pre>{escape(f.target)}</pre></td><td><pre>{escape(f.base_output)}</pre></td>"
        f"<td><pre>{escape(f.cand_output)}</pre></td></tr>"
        for f in d.flips
    )
    shown = "" if d.flips_total == len(d.flips) else f" (first {len(d.flips)} shown)"
    return (
        f'<details class="flips"{" open" if first else ""}>'
        f"<summary>{escape(d.task)}/{escape(d.metric)}: "
        f"{escape(d.cand_label)} vs {escape(d.base_label)}: {d.flips_total} flips{shown}"
        f'</summary><select class="flipdir"><option value="">all flips</option>'
        f'<option value="right->wrong">right→wrong</option>'
        f'<option value="wrong->right">wrong→right</option></select>'
        f'<div class="scroll"><table class="sortable"><thead><tr><th>id</th><th>flip</th>'
        f"<th>prompt (end)</th><th>target</th><th>{escape(d.base_label)}</th>"
        f"<th>{escape(d.cand_label)}</th></tr></thead><tbody>{rows}</tbody></table></div>"
        "</details>"
    )


def to_html(report: Report, plots: dict[str, bytes]) -> str:
    """Renders the report as one self-contained HTML page."""
    imgs = "".join(
        f'<figure><img id="plot-{escape(name)}" alt="{escape(name)}" '
        f'src="data:image/png;base64,{base64.b64encode(png).decode()}"></figure>'
        for name, png in plots.items()
    )
    flipped = [d for d in report.deltas if d.flips]
    flip_views = [_flips(d, first=k == 0) for k, d in enumerate(flipped)]
    notes = "".join(f"<li>{escape(n)}</li>" for n in report.notes)
    runs = "".join(
        f"<tr><td>{escape(r['run_id'])}</td><td>{escape(r['label'])}</td><td>{escape(r['task'])}"
        f"</td><td>{escape(str(r['group_id']))}</td><td>{escape(r['status'])}</td>"
        f'<td class="num">{r["n"]}</td>'
        f"<td>{escape(r['created_at'])}</td></tr>"
        for r in report.runs
    )
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="{_CSP}">
<title>{escape(report.title)}</title><style>{_CSS}</style></head><body>
<h1>{escape(report.title)}</h1>
{forgetting_html(report.forgetting)}
<p class="muted">Generated {escape(report.created_at)} from {len(report.runs)} runs.
Values are means (or corpus scores) with 95% intervals and the n they were computed on;
comparisons are paired (McNemar exact / paired bootstrap, corpus metrics recomputed on each
resample; clustered per-item metrics by a sign-flip test over clusters, clustered corpus
metrics by a cluster bootstrap) when both runs hold the same items, otherwise
unpaired and labelled so. Detectable Δ: the smallest difference detected with 80% power.</p>
<p><input id="filter" type="search" placeholder="Filter rows (model, task, metric)"></p>
<h2>Leaderboard</h2>{_leaderboard(report)}
{paper_html(report.paper)}
<h2>Adapter vs base</h2>{_comparisons(report)}
<h2>Plots</h2>{imgs or '<p class="muted">No plots.</p>'}
<h2>Per-item flips</h2>{"".join(flip_views) or '<p class="muted">No paired binary flips.</p>'}
{sections_html(report.sections)}
<h2>Runs</h2><div class="scroll"><table id="runs" class="sortable filterable"><thead><tr>
<th>run id</th><th>model</th><th>task</th><th>group</th><th>status</th><th>n</th><th>created</th>
</tr></thead><tbody>{runs}</tbody></table></div>
{f'<h2>Notes</h2><ul id="notes">{notes}</ul>' if notes else ""}
<script>{_JS}</script></body></html>
"""
