"""Finding, filtering and comparing stored runs: what ``harness runs`` and ``harness view`` show.

`list_runs` reads every ``run.json`` under a runs folder (samples are read only when asked),
`RunFilter` keeps the runs a user asked for, and `diff_runs` pairs two runs item by item on
one metric, listing the items whose values differ.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from pathlib import Path

from harness._errors import HarnessError
from harness._output_split import quality_names
from harness.record import RunRecord, read_run
from harness.runstore._runset import LoadedRun, load_run, lower_is_better
from harness.stats import pair_samples


@dataclass(frozen=True)
class RunEntry:
    """One stored run, its record read (not its samples)."""

    path: Path
    record: RunRecord

    @property
    def adapter(self) -> str | None:
        a = self.record.model.adapter
        return a.name if a else None

    @property
    def created(self) -> dt.datetime:
        return dt.datetime.fromisoformat(self.record.created_at)


def list_runs(root: Path) -> tuple[list[RunEntry], list[str]]:
    """Every readable run under ``root``, newest first, and one note per unreadable one."""
    if not root.is_dir():
        return [], []
    entries, problems = [], []
    for path in sorted(root.rglob("run.json")):
        try:
            entries.append(RunEntry(path.parent, read_run(path.parent)))
        except (ValueError, OSError) as e:
            problems.append(f"{path.parent}: {str(e).splitlines()[0]}")
    entries.sort(key=lambda e: e.record.created_at, reverse=True)
    return entries, problems


_AGE = re.compile(r"^(\d+)([mhdw])$")
_UNIT = {"m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def parse_since(value: str, now: dt.datetime | None = None) -> dt.datetime:
    """``--since``: an age (``30m``, ``12h``, ``7d``, ``2w``) or a date (``2026-12-01``).

    Raises:
        HarnessError: Neither form.
    """
    now = now or dt.datetime.now(dt.timezone.utc)
    m = _AGE.match(value.strip())
    if m:
        return now - dt.timedelta(**{_UNIT[m.group(2)]: int(m.group(1))})
    try:
        when = dt.datetime.fromisoformat(value)
    except ValueError:
        raise HarnessError(
            f"--since {value!r}: pass an age (30m, 12h, 7d, 2w) or a date (2026-12-01)"
        ) from None
    return when if when.tzinfo else when.replace(tzinfo=dt.timezone.utc)


@dataclass(frozen=True)
class RunFilter:
    """Which runs to keep; None keeps all. Task, model and adapter match substrings;
    ``adapter="base"`` keeps base-model runs."""

    task: str | None = None
    model: str | None = None
    adapter: str | None = None
    since: dt.datetime | None = None
    status: str | None = None

    def keep(self, e: RunEntry) -> bool:
        """Whether ``e`` passes every filter that is set."""
        rec = e.record
        adapter = e.adapter or "base"
        return all(
            [
                self.task is None or self.task in rec.task.name,
                self.model is None or self.model in rec.model.id,
                self.adapter is None
                or (adapter == "base" if self.adapter == "base" else self.adapter in adapter),
                self.since is None or e.created >= self.since,
                self.status is None or rec.status == self.status,
            ]
        )


def find_run(ref: str, root: Path) -> Path:
    """A run folder from a path or a run id (or a unique prefix of one) under ``root``.

    Raises:
        HarnessError: No run, or several, match.
    """
    path = Path(ref)
    if (path / "run.json").is_file():
        return path
    entries, _ = list_runs(root)
    hits = [e.path for e in entries if e.path.name == ref] or [
        e.path for e in entries if e.path.name.startswith(ref)
    ]
    if len(hits) == 1:
        return hits[0]
    if not hits:
        raise HarnessError(f"no run {ref!r} in {root}; `harness runs` lists the run ids")
    raise HarnessError(f"{ref!r} matches {len(hits)} runs in {root}; give more of the run id")


@dataclass(frozen=True)
class ItemDiff:
    """One item whose metric differs between the two runs."""

    id: str
    a: float | None
    b: float | None
    a_output: str
    b_output: str
    better: str  # "a" or "b": whose value is better on this metric


@dataclass(frozen=True)
class RunDiff:
    """Two runs compared item by item on one metric."""

    metric: str
    paired: int
    same: int
    items: list[ItemDiff]
    mean_a: float | None
    mean_b: float | None


def shared_metric(a: LoadedRun, b: LoadedRun) -> str:
    """The first metric both runs report per item.

    Raises:
        HarnessError: They share none.
    """
    for name in quality_names(a.record):
        if name in b.record.metrics and a.values(name) and b.values(name):
            return name
    raise HarnessError(
        f"{a.path.name} and {b.path.name} share no per-item metric; pass --metric NAME"
    )


def diff_runs(a_path: Path, b_path: Path, metric: str | None = None) -> RunDiff:
    """Pairs two runs by item id on ``metric`` (default: the first both report).

    Raises:
        HarnessError: Different tasks, items that do not pair, or an unknown metric.
    """
    a, b = load_run(a_path), load_run(b_path)
    if a.task != b.task:
        raise HarnessError(
            f"{a.path.name} is {a.task} and {b.path.name} is {b.task}; diff runs of one task"
        )
    pairing = pair_samples(a.samples, b.samples)
    if not pairing.paired:
        raise HarnessError(
            f"{a.path.name} and {b.path.name} cannot be paired: {pairing.reason}; rerun both "
            f"with the same --limit/--sample and --seed"
        )
    name = metric or shared_metric(a, b)
    av, bv = a.values(name), b.values(name)
    if not av or not bv:
        raise HarnessError(f"metric {name!r} is not recorded per item in both runs")
    outs_a = {s.id: (s.outputs[0] if s.outputs else "") for s in a.samples}
    outs_b = {s.id: (s.outputs[0] if s.outputs else "") for s in b.samples}
    lower = lower_is_better(name)
    items = []
    for i in pairing.ids:
        x, y = av.get(i), bv.get(i)
        if x == y:
            continue
        b_better = x is None or (y is not None and ((y < x) if lower else (y > x)))
        items.append(ItemDiff(i, x, y, outs_a[i], outs_b[i], "b" if b_better else "a"))
    return RunDiff(name, len(pairing.ids), len(pairing.ids) - len(items), items, *_means(av, bv))


def _means(av: dict[str, float | None], bv: dict[str, float | None]) -> tuple[float | None, ...]:
    def mean(v: dict[str, float | None]) -> float | None:
        xs = [x for x in v.values() if x is not None]
        return sum(xs) / len(xs) if xs else None

    return mean(av), mean(bv)
