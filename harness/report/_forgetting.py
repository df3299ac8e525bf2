"""The forgetting view: for each adapter, the tasks on which it is significantly worse than
its base model, one line each, at the top of the report.

Only paired comparisons count (both runs answered the same items), so a line is evidence of
collateral damage, not of two runs on different items. This module works on the report's
comparisons (`harness.report._model.Delta` values) without importing that module, which
imports it.
"""

from __future__ import annotations

from collections.abc import Sequence
from html import escape
from typing import Any


def forgetting_lines(deltas: Sequence[Any]) -> list[str]:
    """One line per (adapter, task) with a metric significantly worse than the base's (paired).

    Args:
        deltas: The report's comparisons (`Delta`: ``task``, ``metric``, ``cand_label``,
            ``base_label``, ``verdict``, ``comparison``).
    """
    worse: dict[tuple[str, str, str], list[str]] = {}
    for d in deltas:
        r = d.comparison.result
        if d.verdict != "worse" or not r.kind.startswith("paired"):
            continue
        key = (d.cand_label, d.task, d.base_label)
        worse.setdefault(key, []).append(
            f"{d.metric} {r.baseline:.3f} → {r.candidate:.3f} ({r.delta:+.3f} "
            f"[{r.ci_low:+.3f}, {r.ci_high:+.3f}], p={r.p_value:.2g}, {r.test}, n={r.n})"
        )
    return [
        f"{adapter} is worse than {base} on {task}: " + "; ".join(metrics)
        for (adapter, task, base), metrics in sorted(worse.items())
    ]


def forgetting_html(lines: Sequence[str]) -> str:
    """The view as an HTML block (a short all-clear when no adapter is worse)."""
    if not lines:
        return (
            '<p id="forgetting" class="muted">Forgetting: no adapter is significantly worse '
            "than its base on any task (paired comparisons).</p>"
        )
    items = "".join(f'<li class="bad">{escape(line)}</li>' for line in lines)
    return (
        '<div id="forgetting"><h2>Forgetting: where an adapter is worse than its base</h2>'
        f"<ul>{items}</ul></div>"
    )


def forgetting_markdown(lines: Sequence[str]) -> list[str]:
    """The view as Markdown lines."""
    if not lines:
        return ["Forgetting: no adapter is significantly worse than its base (paired).", ""]
    return (
        ["## Forgetting: where an adapter is worse than its base", ""]
        + [f"- {line}" for line in lines]
        + [""]
    )
