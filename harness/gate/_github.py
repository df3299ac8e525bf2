"""The gate's summary for GitHub: a step summary or pull-request comment, failing checks first.

One table per task (tasks with a failing check first; within a table failing rows first):
the check, the base and candidate values, Δ with its interval, the detectable Δ (the smallest
drop the check would detect with 80% power, as the gate computed it) and the verdict. The
whole text stays under GitHub's 65,536-character limit for a comment: rows past the budget
are cut with a line saying how many.
"""

from __future__ import annotations

from typing import Any

from harness.gate._checks import CheckResult
from harness.gate._output import _ICON, GateResult

LIMIT = 65_536
_BUDGET = LIMIT - 512  # room for the closing line
_DETECTABLE_KEYS = ("detectable_delta", "minimal_detectable_effect")


def to_github_markdown(result: GateResult) -> str:
    """The gate's verdict as GitHub-flavoured Markdown (< 65,536 characters)."""
    failed = {id(r) for r in result.failed}
    verdict = "❌ FAILED" if failed else "✅ PASSED"
    head = [
        f"## harness gate: {verdict}",
        "",
        (
            f"{len(result.results)} checks, {len(failed)} failing "
            f"(inconclusive counts as {result.policy.on_inconclusive})."
        ),
        "",
    ]
    if failed:
        first = next(r for r in result.results if id(r) in failed)
        head += [
            f"First failing check: **{first.task}: {first.name}** — {_cell(first.reason)}",
            "",
        ]
    lines, cut = list(head), 0
    for task, rows in _by_task(result.results, failed):
        table = [f"### {task}", "", _ROW_HEAD, _ROW_RULE]
        table += [_row(r, id(r) in failed) for r in rows]
        block = "\n".join([*table, ""])
        if sum(len(x) + 1 for x in lines) + len(block) > _BUDGET:
            cut += len(rows)
            continue
        lines += [*table, ""]
    if cut:
        lines.append(f"_{cut} more checks not shown (comment size limit); see the JUnit file._")
    return "\n".join(lines).rstrip("\n") + "\n"


_ROW_HEAD = "| check | base | candidate | Δ [interval] | detectable Δ | verdict |"
_ROW_RULE = "| --- | ---: | ---: | --- | ---: | --- |"


def _by_task(results: list[CheckResult], failed: set[int]) -> list[tuple[str, list[CheckResult]]]:
    tasks: dict[str, list[CheckResult]] = {}
    for r in results:
        tasks.setdefault(r.task, []).append(r)
    for rows in tasks.values():
        rows.sort(key=lambda r: id(r) not in failed)  # stable: failing rows first
    return sorted(tasks.items(), key=lambda kv: not any(id(r) in failed for r in kv[1]))


def _row(r: CheckResult, failing: bool) -> str:
    n = r.numbers
    base = _num(n.get("baseline"))
    cand = _num(n.get("candidate", n.get("value")))
    if "delta" in n:
        lo, hi = n.get("ci_low", float("nan")), n.get("ci_high", float("nan"))
        delta = f"{n['delta']:+.4f} [{lo:+.4f}, {hi:+.4f}]"
    elif "ci_low" in n:
        delta = f"value in [{n['ci_low']:.4f}, {n['ci_high']:.4f}]"
    else:
        delta = "–"
    detectable = next((n[k] for k in _DETECTABLE_KEYS if n.get(k) is not None), None)
    verdict = _ICON.get(r.status, r.status) + (
        " (failing)" if failing and r.status != "fail" else ""
    )
    return f"| {_cell(r.name)} | {base} | {cand} | {delta} | {_num(detectable)} | {verdict} |"


def _num(value: Any) -> str:
    return f"{value:.4f}" if isinstance(value, int | float) and not isinstance(value, bool) else "–"


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")
