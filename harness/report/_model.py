"""The leaderboard data model: what a report shows, built from run folders.

`build_report` turns loaded runs into a `Report`: a leaderboard (rows = model or adapter,
columns = task metric with its 95% interval), one comparison per adapter run against its base
run (paired when the items match, with right->wrong / wrong->right flips and both outputs),
and adapter loss curves read from the trainer's ``adapter_manifest.json``. The writers in this
package only format a `Report`; they compute nothing.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from harness._output_split import quality_names
from harness.gate._degenerate import answer_profile, trivial_baseline
from harness.record import Fingerprint
from harness.report._breakdown import breakdown_sections, is_category_metric
from harness.report._cells import settings_differ, settings_key
from harness.report._contamination import add_contamination
from harness.report._forgetting import forgetting_lines
from harness.report._pairwise import is_pairwise, pairwise_section
from harness.report._primary import Badge, badges_of, is_qualifier, primary_of
from harness.report._sections import Section, run_sections
from harness.runstore import (
    LoadedRun,
    RunComparison,
    compare_metric,
    find_baseline,
    lower_is_better,
    name_mismatch,
)
from harness.stats import DETECTABLE_ALPHA, format_p, minimal_detectable_effect

MANIFEST = "adapter_manifest.json"
MAX_FLIPS = 200


@dataclass
class Cell:
    """One leaderboard entry: a metric with its 95% interval.

    ``complete`` is False for a run whose status is not complete (failed requests were left
    out): writers mark such cells visibly.
    """

    value: float | None
    ci_low: float | None
    ci_high: float | None
    n: int
    method: str
    run_id: str
    complete: bool = True
    n_evaluated: int | None = None
    trivial: float | None = None
    flag: str | None = None
    badges: list[Badge] = field(default_factory=list)

    @property
    def sparse(self) -> bool:
        """Scored on fewer than half the evaluated items: marked, never shown as an equal."""
        return self.n_evaluated is not None and 2 * self.n < self.n_evaluated


@dataclass
class Row:
    """A model or adapter with its metrics by column key ``task/metric``."""

    label: str
    model: str
    adapter: str | None
    cells: dict[str, Cell] = field(default_factory=dict)
    contamination: dict[str, str] = field(default_factory=dict)  # task -> "5/12", "unchecked"


@dataclass
class Flip:
    """An item whose binary outcome changed between baseline and candidate."""

    id: str
    direction: str  # "right->wrong" or "wrong->right"
    prompt: str
    target: str
    base_output: str
    cand_output: str


@dataclass
class Delta:
    """A candidate run compared with its baseline run on one metric."""

    task: str
    metric: str
    base_label: str
    cand_label: str
    comparison: RunComparison
    flips: list[Flip] = field(default_factory=list)
    flips_total: int = 0

    @property
    def lower_is_better(self) -> bool:
        """Whether the metric's name says lower is better."""
        return lower_is_better(self.metric)

    @property
    def verdict(self) -> str:
        """ "worse", "better" or "" (no significant difference), given the metric's direction."""
        r = self.comparison.result
        if not r.significant or r.delta == 0:
            return ""
        return "worse" if (r.delta < 0) != self.lower_is_better else "better"

    @property
    def minimal_detectable_effect(self) -> float:
        """Smallest true difference this comparison detects with 80% power, one-sided at
        `harness.stats.DETECTABLE_ALPHA` (the gate's definition at its default alpha)."""
        return minimal_detectable_effect(self.comparison.result.se, DETECTABLE_ALPHA)

    @property
    def p_text(self) -> str:
        """The p-value, ``< 1/B`` below a bootstrap's resolution."""
        r = self.comparison.result
        return format_p(r.p_value, r.resamples)

    @property
    def flip_counts(self) -> str:
        """ "right->wrong / wrong->right" counts for paired 0/1 metrics, else "–"."""
        r = self.comparison.result
        if r.worse is None or r.better is None:
            return "–"
        pair = (r.better, r.worse) if self.lower_is_better else (r.worse, r.better)
        return f"{pair[0]} / {pair[1]}"


@dataclass
class LossCurve:
    """An adapter's training and evaluation loss by step."""

    label: str
    source: str
    steps: list[float]
    train_loss: list[float | None]
    eval_loss: list[float | None]


@dataclass
class Report:
    """Everything a report shows."""

    title: str
    created_at: str
    columns: list[str]
    rows: list[Row]
    deltas: list[Delta]
    curves: list[LossCurve]
    runs: list[dict[str, Any]]
    notes: list[str] = field(default_factory=list)
    forgetting: list[str] = field(default_factory=list)  # adapters worse than base (paired)
    sections: list[Section] = field(default_factory=list)  # drift and counterfactual results
    contaminated_tasks: list[str] = field(default_factory=list)  # with a contamination column
    primary: list[str] = field(default_factory=list)  # the columns shown first
    paper: list[Any] = field(default_factory=list)  # `_paper.PaperTable`s (`harness.report`)


def _text(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, list) and value and all(isinstance(m, dict) for m in value):
        return "\n".join(f"[{m.get('role', '?')}] {m.get('content', '')}" for m in value)
    return json.dumps(value, ensure_ascii=False, default=str)


def _flips(base: LoadedRun, cand: LoadedRun, metric: str) -> tuple[list[Flip], int]:
    bv, cv = base.values(metric), cand.values(metric)
    lower = lower_is_better(metric)
    b_by_id = {s.id: s for s in base.samples}
    flips: list[Flip] = []
    total = 0
    for s in cand.samples:
        b, c = bv.get(s.id), cv.get(s.id)
        if b is None or c is None or b == c or s.id not in b_by_id:
            continue
        total += 1
        if len(flips) < MAX_FLIPS:
            bs = b_by_id[s.id]
            flips.append(
                Flip(
                    id=s.id,
                    direction="right->wrong" if (b > c) != lower else "wrong->right",
                    prompt=_text(s.prompt),
                    target=_text(s.target),
                    base_output=bs.outputs[0] if bs.outputs else "",
                    cand_output=s.outputs[0] if s.outputs else "",
                )
            )
    return flips, total


def read_loss_curve(run: LoadedRun) -> LossCurve | str | None:
    """The adapter's loss curve, a note saying why there is none, or None for base runs."""
    adapter = run.record.model.adapter
    if adapter is None:
        return None
    if not adapter.path:
        return f"{run.label}: the run record names no adapter folder; no loss curve"
    path = Path(adapter.path) / MANIFEST
    if not path.is_file():
        return f"{run.label}: no {MANIFEST} in {adapter.path}; no loss curve"
    try:
        history = json.loads(path.read_text(encoding="utf-8")).get("loss_history") or []
        points = [(float(h["step"]), h.get("train_loss"), h.get("eval_loss")) for h in history]
    except (ValueError, TypeError, KeyError, AttributeError) as e:
        return f"{run.label}: {path} is malformed ({e}); no loss curve"
    if not points:
        return f"{run.label}: {path} holds no loss_history; no loss curve"
    points.sort(key=lambda p: p[0])
    return LossCurve(
        run.label,
        str(path),
        [p[0] for p in points],
        [None if p[1] is None else float(p[1]) for p in points],
        [None if p[2] is None else float(p[2]) for p in points],
    )


def _cell(run: LoadedRun, metric: str) -> Cell:
    m = run.record.metrics[metric]
    value = None if m.value is None or math.isnan(m.value) else m.value
    trivial = trivial_baseline(run, metric)
    profile = answer_profile(run) if trivial is not None else None
    return Cell(
        value,
        m.ci_low,
        m.ci_high,
        m.n,
        m.method,
        run.record.run_id,
        complete=run.record.status == "complete",
        n_evaluated=run.record.dataset.n_evaluated,
        trivial=trivial[0] if trivial else None,
        flag=profile.flag if profile else None,
    )


def _digest(run: LoadedRun) -> str | None:
    fp = run.record.fingerprint
    return fp.digest if fp else None


def task_columns(runs: list[LoadedRun]) -> dict[str, str]:
    """Run id -> the task's column label: the task name, or, where runs of one task name
    evaluated different things (fingerprints) or under other prompt- or answer-changing
    settings (`harness.report._cells`), the name plus what differs, e.g.
    ``instruct [data=a.jsonl]`` or ``gsm8k [system_prompt="Be brief."]``, so such runs are
    never merged into one cell."""
    by_task: dict[str, dict[tuple[str | None, str], LoadedRun]] = {}
    for run in runs:
        key = (_digest(run), settings_key(run.record))
        by_task.setdefault(run.task, {}).setdefault(key, run)
    labels: dict[tuple[str, str | None, str], str] = {}
    out: dict[str, str] = {}
    for run in runs:
        variants = by_task[run.task]
        if len(variants) == 1:
            out[run.record.run_id] = run.task
            continue
        label_key = (run.task, _digest(run), settings_key(run.record))
        if label_key not in labels:
            pool = list(variants.values())
            fps = [r.record.fingerprint for r in pool]
            parts = (
                []
                if len({_digest(r) for r in pool}) == 1
                else [_what_differs(run.record.fingerprint, fps)]
            )
            parts += settings_differ(run.record, [r.record for r in pool])
            labels[label_key] = f"{run.task} [{', '.join(parts)}]"
        out[run.record.run_id] = labels[label_key]
    return out


def _what_differs(fp: Fingerprint | None, pool: list[Fingerprint | None]) -> str:
    """The parts of ``fp`` that tell it apart from the other fingerprints in ``pool``: data
    file names (or the files whose content differs, with their sha256 prefix), the task file,
    then the task parameters that differ."""
    files = fp.data_files if fp else {}
    parts: list[str] = []
    if len({_data_names(f) for f in pool}) > 1:
        parts.append(f"data={_data_names(fp)}")
    elif len({json.dumps(f.data_files if f else None, sort_keys=True) for f in pool}) > 1:
        changed = [n for n in sorted(files) if len({_file_sha(f, n) for f in pool}) > 1]
        parts.append("data=" + ",".join(f"{Path(n).name}@{files[n][:8]}" for n in changed))
    task_file = Path(fp.task_file).name if fp and fp.task_file else "-"
    if len({f.task_file if f else None for f in pool}) > 1:
        parts.append(f"task={task_file}")
    elif len({f.task_file_sha256 if f else None for f in pool}) > 1:
        parts.append(f"task={task_file}@{((fp.task_file_sha256 if fp else None) or '-')[:8]}")
    params = fp.task_params if fp else {}
    for key in sorted({k for f in pool if f for k in f.task_params}):
        values = {json.dumps((f.task_params if f else {}).get(key), default=str) for f in pool}
        value = params.get(key)
        if isinstance(value, str) and "/" in value:
            value = Path(value).name  # a data path: its name says enough
            if parts and value in _data_names(fp).split(","):
                continue  # already shown as data=...
        if len(values) > 1:
            parts.append(f"{key}={value}")
    return ", ".join(parts) or f"run={fp.digest if fp else 'no fingerprint'}"


def _data_names(f: Fingerprint | None) -> str:
    if f is None:
        return "?"
    return ",".join(Path(n).name for n in sorted(f.data_files)) or (f.data_source or "?")


def _file_sha(f: Fingerprint | None, name: str) -> str | None:
    return f.data_files.get(name) if f else None


def _deltas(run: LoadedRun, base: LoadedRun, column: str, notes: list[str]) -> list[Delta]:
    """Every metric of an adapter run compared with its base run (corpus metrics included)."""
    out: list[Delta] = []
    for metric in quality_names(run.record):
        mismatch = name_mismatch(run, metric) or name_mismatch(base, metric)
        if mismatch:
            notes.append(mismatch)
            continue
        rc = compare_metric(base, run, metric)
        if rc is None:
            continue
        d = Delta(column, metric, base.label, run.label, rc)
        if rc.result.worse is not None:
            d.flips, d.flips_total = _flips(base, run, metric)
        out.append(d)
    return out


def _degenerate_notes(runs: list[LoadedRun]) -> list[str]:
    notes = []
    for r in runs:
        p = answer_profile(r)
        if p is not None and p.flag:
            notes.append(
                f"{r.label} {r.task}: {p.flag}: {p.top_share:.0%} of {p.n} answers are "
                f"{p.top!r} ({p.distinct} distinct); compare its metrics with their trivial "
                "baselines"
            )
    return notes


def build_report_model(runs: list[LoadedRun], title: str = "harness leaderboard") -> Report:
    """Builds the leaderboard, comparisons and loss curves from loaded runs."""
    notes: list[str] = []
    runs = sorted(runs, key=lambda r: r.record.created_at)
    pairwise = [r for r in runs if is_pairwise(r)]
    runs = [r for r in runs if not is_pairwise(r)]  # their own section, not a model's cell
    rows: dict[str, Row] = {}
    columns: list[str] = []
    column_of = task_columns(runs)
    contaminated: list[str] = []
    shown: dict[tuple[str, str], list[str]] = {}  # (row, column) -> its runs, oldest first
    primary: list[str] = []
    for run in runs:
        row = rows.setdefault(run.label, Row(run.label, run.record.model.id, run.adapter))
        add_contamination(row, run, column_of[run.record.run_id], contaminated)
        # per-category metrics are shown in the breakdown, rates as badges on what they qualify
        metrics = [m for m in quality_names(run.record) if not is_category_metric(run, m)]
        firsts = primary_of(run, metrics)
        badges = badges_of(run, metrics, firsts)
        for metric in [m for m in metrics if not is_qualifier(m)]:
            key = f"{column_of[run.record.run_id]}/{metric}"
            if key not in columns:
                columns.append(key)
            row.cells[key] = _cell(run, metric)
            row.cells[key].badges = badges.get(metric, [])
        for metric in firsts:
            key = f"{column_of[run.record.run_id]}/{metric}"
            if key not in primary:
                primary.append(key)
        cell = (run.label, column_of[run.record.run_id])
        shown.setdefault(cell, []).append(run.record.run_id)
    notes += [
        f"{label} {column}: {len(ids)} runs of the same settings; shown: {ids[-1]} (the "
        f"latest); hidden: {', '.join(ids[:-1])}"
        for (label, column), ids in shown.items()
        if len(ids) > 1
    ]
    deltas: list[Delta] = []
    curves: list[LossCurve] = []
    seen_adapters: set[str] = set()
    for run in runs:
        if run.adapter is None:
            continue
        curve = read_loss_curve(run)
        adapter = run.record.model.adapter
        key = (adapter.path if adapter else None) or run.label
        if key not in seen_adapters:
            seen_adapters.add(key)
            if isinstance(curve, LossCurve):
                curves.append(curve)
            elif isinstance(curve, str):
                notes.append(curve)
        same_data = [r for r in runs if r.adapter is None and _digest(r) == _digest(run)]
        base = find_baseline(run, same_data)  # never against a run on other data
        if base is None:
            notes.append(f"{run.label} {run.task}: no base-model run to compare with")
            continue
        deltas += _deltas(run, base, column_of[run.record.run_id], notes)
    notes += _degenerate_notes(runs)
    notes += [
        f"{r.label} {r.task}: run {r.record.run_id} is {r.record.status}; its numbers "
        "cover only the items it finished"
        for r in runs
        if r.record.status != "complete"
    ]
    run_info = [
        {
            "run_id": r.record.run_id,
            "label": r.label,
            "task": r.task,
            "status": r.record.status,
            "group_id": r.record.group_id,
            "created_at": r.record.created_at,
            "n": r.record.dataset.n_evaluated,
            "path": str(r.path),
            "usage": r.record.usage.model_dump(),
            "timing": r.record.timing.model_dump(),
        }
        for r in sorted(runs + pairwise, key=lambda r: r.record.created_at)
    ]
    primary = sorted(primary, key=lambda c: (c.split("/", 1)[0], primary.index(c)))
    return Report(
        title,
        datetime.now(timezone.utc).isoformat(timespec="seconds"),
        primary + sorted(c for c in columns if c not in primary),
        list(rows.values()),
        deltas,
        curves,
        run_info,
        notes,
        forgetting_lines(deltas),
        run_sections(runs)
        + pairwise_section(pairwise)
        + breakdown_sections(runs, column_of, deltas),
        contaminated,
        primary,
    )
