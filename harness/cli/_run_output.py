"""What ``harness run`` prints: a table per variant, a combined table for several tasks, JSON.

The summary line under each table counts the variant's requests, its tokens (model and,
when a judge scored the run, judge) and the estimated cost when a price was configured.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from harness._categories import split_metric
from harness._output_split import OUTPUT_RATES, quality_names

if TYPE_CHECKING:
    from harness._runner import EvalResult
    from harness.record import MetricRecord, RunRecord, Timing


def summary(result: EvalResult) -> dict[str, Any]:
    """One variant's result for ``--json``."""
    r = result.record
    judges = {k: v for k, v in r.extra.items() if k.startswith(("judge:", "judge_calibration"))}
    return {
        "run_id": r.run_id,
        "group_id": r.group_id,
        "folder": str(result.folder),
        "task": r.task.name,
        "model": r.model.id,
        "adapter": r.model.adapter.name if r.model.adapter else None,
        "metrics": {k: m.model_dump() for k, m in r.metrics.items()},
        "counts": r.counts.model_dump(),
        "timing": r.timing.model_dump(),
        "usage": r.usage.model_dump(),
        **({"judge": judges} if judges else {}),
    }


def _who(record: RunRecord) -> str:
    return record.model.id + (f" + {record.model.adapter.name}" if record.model.adapter else "")


def _ci(m: MetricRecord) -> str:
    if m.ci_low is None or m.ci_high is None:
        return ""
    return f"[{m.ci_low:.3f}, {m.ci_high:.3f}]"


def _value(m: MetricRecord) -> str:
    return "nan" if m.value is None else f"{m.value:.4f}"


def _n(m: MetricRecord) -> str:
    """A metric's scored n (items with a value), not the run's item count."""
    return "" if m.n is None else str(m.n)


def usage_line(record: RunRecord) -> str:
    """Tokens in/out of the model (and the judge), and the cost estimate when priced."""
    u = record.usage
    thinking = f" ({u.model_reasoning_tokens} thinking)" if u.model_reasoning_tokens else ""
    parts = [f"{u.model_tokens_in} tokens in, {u.model_tokens_out} out{thinking}"]
    if u.judge_tokens_in is not None or u.judge_tokens_out is not None:
        calls = "" if u.judge_calls is None else f"{u.judge_calls} calls, "
        parts.append(f"judge {calls}{u.judge_tokens_in or 0} in, {u.judge_tokens_out or 0} out")
    if u.ragas_calls is not None:
        parts.append(
            f"ragas {u.ragas_calls} calls, {u.ragas_tokens_in or 0} in, "
            f"{u.ragas_tokens_out or 0} out"
        )
    if u.cost is not None:
        parts.append(f"~{u.cost:.4f} est. cost")
    return " · ".join(parts)


def cut_rates(record: RunRecord) -> str:
    """`` · reasoning_truncated_rate 0.100 · length_cut_rate 0.250`` (generation tasks)."""
    rates = [(n, record.metrics[n]) for n in OUTPUT_RATES if n in record.metrics]
    return "".join(f" · {n} {_value(m)}" for n, m in rates)


def quality_metrics(record: RunRecord) -> list[tuple[str, Any]]:
    """The record's metrics but `OUTPUT_RATES` (the tables' rows)."""
    return [(k, record.metrics[k]) for k in quality_names(record)]


def overall_metrics(record: RunRecord) -> tuple[list[tuple[str, Any]], str]:
    """The table's rows without the ``METRIC@CATEGORY`` ones of a task with categories, and a
    line counting those (empty when there are none)."""
    rows = quality_metrics(record)
    if record.task.categories is None:
        return rows, ""
    inner = [(k, m) for k, m in rows if split_metric(k)[1] is not None]
    if not inner:
        return rows, ""
    cats = {split_metric(k)[1] for k, _ in inner}
    line = (
        f"{len(inner)} per-category metrics (METRIC@CATEGORY, {len(cats)} "
        f"{record.task.categories} values) in run.json; `harness report` shows the breakdown"
    )
    return [(k, m) for k, m in rows if split_metric(k)[1] is None], line


def print_tables(results: list[Any]) -> None:
    """One table per variant with its metrics, then its counts, tokens and folder."""
    from rich.console import Console
    from rich.table import Table

    console = Console()
    for res in results:
        r = res.record
        scored = sum(1 for s in res.samples if not s.errors)
        n = f"{scored}" if scored == r.counts.samples else f"{scored} of {r.counts.samples} scored"
        table = Table(title=f"{r.task.name} · {_who(r)} · n={n}")
        table.add_column("metric")
        table.add_column("value", justify="right")
        table.add_column("95% CI", justify="right")
        table.add_column("± stderr", justify="right")
        table.add_column("n", justify="right")
        rows, per_category = overall_metrics(r)
        for name, m in rows:
            stderr = "" if m.stderr is None else f"{m.stderr:.4f}"
            table.add_row(name, _value(m), _ci(m), stderr, _n(m))
        console.print(table)
        if per_category:
            console.print(f"  {per_category}")
        t = r.timing
        console.print(
            f"  {r.counts.model_calls} model calls, {r.counts.cache_hits} cached, "
            f"{r.counts.errors} failed · {usage_line(r)} · {t.wall_s:.1f} s wall{_startup(t)} · "
            f"{t.tokens_per_s or 0:.1f} tok/s{cut_rates(r)} · run: {res.folder}"
        )
        from harness.counterfactual import summary_lines

        for line in [*judge_lines(r.extra), *summary_lines(r.extra)]:
            console.print(f"  {line}")


def judge_lines(extra: dict[str, Any]) -> list[str]:
    """One summary line per judge scorer: calls, cache hits, tokens, parse failures."""
    lines = []
    for key, j in extra.items():
        if key.startswith("judge:") and isinstance(j, dict) and "calls" in j:
            lines.append(
                f"{key}: {j['calls']} judge calls, {j['cache_hits']} cached, "
                f"{j['tokens_in'] + j['tokens_out']} tokens, {j['parse_failures']} of "
                f"{j['answered']} verdicts unreadable"
            )
    c = extra.get("judge_calibration")
    if isinstance(c, dict):  # --judge-calibration (judges.calibration)
        lines.append(
            f"judge calibration: {c['correct']} of {c['n']} known-good answers graded above "
            f"their known-bad twins ({100 * c['accuracy']:.0f}%; {c['ties']} tied, "
            f"{c['unreadable']} unreadable) · judge {c['judge']}"
        )
    return lines


def print_combined(results: list[Any]) -> None:
    """One table over every task and variant of the run (several tasks: a suite)."""
    from rich.console import Console
    from rich.table import Table

    group = results[0].record.group_id if results else None
    table = Table(title=f"all tasks · group {group}")
    for col, justify in (
        ("task", "left"),
        ("model", "left"),
        ("n", "right"),
        ("metric", "left"),
        ("value", "right"),
        ("95% CI", "right"),
    ):
        table.add_column(col, justify=justify)  # type: ignore[arg-type]
    for res in results:
        r = res.record
        first = True
        for name, m in overall_metrics(r)[0]:  # per-category values: in run.json and the report
            head = (r.task.name, _who(r)) if first else ("", "")
            table.add_row(*head, _n(m), name, _value(m), _ci(m))
            first = False
        if first:  # nothing scored
            table.add_row(r.task.name, _who(r), str(r.counts.samples), "(none)", "", "")
    tokens_in = sum(res.record.usage.model_tokens_in for res in results)
    tokens_out = sum(res.record.usage.model_tokens_out for res in results)
    costs = [res.record.usage.cost for res in results if res.record.usage.cost is not None]
    console = Console()
    console.print(table)
    cost = f" · ~{sum(costs):.4f} est. cost" if costs else ""
    console.print(f"  {len(results)} runs · {tokens_in} tokens in, {tokens_out} out{cost}")


def _startup(t: Timing) -> str:
    """What the process spent before the first request: " (+ 8.1 s set-up, 14.2 s engine start)"."""
    parts = [f"{t.setup_s:.1f} s set-up"] if t.setup_s is not None else []
    if t.engine_start_s is not None:
        parts.append(f"{t.engine_start_s:.1f} s engine start")
    return f" (+ {', '.join(parts)})" if parts else ""
