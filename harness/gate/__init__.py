"""The CI release gate: a YAML policy of per-task checks, decided with paired statistics.

A policy lists, per task and metric, an absolute minimum and/or the largest regression allowed
against a baseline run, a significance level and an optional non-inferiority margin. Each
check ends ``pass``, ``fail`` or ``inconclusive`` together with the numbers that decided it.
Every decision is a one-sided test at level ``alpha``, shown as a two-sided ``1 - 2*alpha``
interval (90% for alpha 0.05), as in a TOST:

* ``min`` / ``max``: fail when the candidate's metric is significantly beyond the bound, pass
  when it is significantly within it, inconclusive otherwise (exact binomial tests and a
  Clopper-Pearson interval for 0/1 metrics; a normal interval for continuous ones).
* ``regression``: fail when the candidate is significantly worse than the baseline (one-sided
  p < alpha: exact McNemar for paired 0/1 metrics, paired bootstrap for continuous ones, a
  z-test for unpaired runs; so at most alpha of identical reruns fail) *and* the observed drop
  exceeds ``max_regression``. With a ``non_inferiority_margin``, a check that did not fail
  passes only when the candidate is shown worse by less than the margin (the interval's lower
  end lies above ``-margin``); otherwise it is inconclusive.

Corpus metrics (corpus BLEU/chrF, micro/macro F1, ROC-AUC) are gated like per-item ones: the
bounds from a percentile-bootstrap interval of the recomputed corpus metric, regressions by a
paired bootstrap that recomputes it on both runs for each resample. Items a task clusters
(`harness.CLUSTER_KEY`) are compared by cluster: per-item metrics by a sign-flip test over
clusters, corpus metrics and bounds by a cluster bootstrap. ``beat_trivial: true``
passes only when the candidate is significantly above the metric's trivial baseline
(`harness.gate._degenerate`). Every regression check reports its minimal detectable effect
(one-sided at ``alpha``, 80% power; `harness.stats.detectable_name`) and the n needed to detect
``max_regression``. A check whose interval lies wholly on one side of ``-max_regression``
passes or fails on it; one whose interval straddles it while unable to detect a
``max_regression`` > 0 ends ``underpowered`` (counted as inconclusive) unless
``require_power: false``.

"Worse" means lower, except for metrics whose name says lower is better (``*_no_match``,
``error_rate``, ``perplexity``, see `harness.runstore.lower_is_better`) or a check that sets
``higher_is_better: false``; then it means higher, and the regression tests are mirrored.

Inconclusive (and underpowered) checks fail the gate unless the policy says
``on_inconclusive: pass``; JUnit then marks them skipped. A candidate adapter scored on items
from its own training data fails the gate by default (``contamination: fail | clean_only |
warn``, see `harness.gate._contamination`). Exit codes: 0 every check passed, 1
some check failed, 2 usage or data error (bad policy, missing run), each problem said once.

The baseline of a candidate run is, in order: the explicitly given baseline runs; else the
base-model run evaluated with it in one engine (same ``group_id``: the strongest, paired
comparison; ``harness gate`` also looks for it beside a candidate run folder); else the
policy's ``baseline`` folders (``runs/baselines``). `run_candidate_evals`
produces such a paired base + adapter group for every task of the policy.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from harness._categories import categories_of
from harness._errors import HarnessError
from harness.gate._checks import (
    CheckResult,
    Status,
    check_beats,
    check_bound,
    check_interval,
    check_min,
    check_regression,
)
from harness.gate._contamination import Contamination, clean_view, contamination_check
from harness.gate._degenerate import trivial_baseline
from harness.gate._github import to_github_markdown
from harness.gate._output import junit_error, to_junit, to_markdown
from harness.runstore import (
    LoadedRun,
    RunComparison,
    cluster_interval,
    compare_metric,
    is_corpus,
    lower_is_better,
    name_mismatch,
)

if TYPE_CHECKING:
    from harness._context import RunContext

__all__ = [
    "CheckPolicy",
    "CheckResult",
    "GatePolicy",
    "GateResult",
    "Status",
    "check_bound",
    "check_min",
    "check_regression",
    "evaluate",
    "junit_error",
    "load_policy",
    "run_candidate_evals",
    "to_github_markdown",
    "to_junit",
    "to_markdown",
]

EXIT_PASS, EXIT_FAIL, EXIT_ERROR = 0, 1, 2


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class CheckPolicy(_Strict):
    """One task metric's checks."""

    task: str = Field(description="task registry name, as in the run record")
    metric: str = Field(description="metric name in run.json (or scorer/metric)")
    min: float | None = Field(None, description="absolute minimum of the candidate's metric")
    max: float | None = Field(None, description="absolute maximum of the candidate's metric")
    max_regression: float | None = Field(
        None,
        ge=0,
        description="largest drop vs the baseline allowed (0: any significant drop fails)",
    )
    alpha: float | None = Field(None, gt=0, lt=0.5, description="overrides the policy's alpha")
    non_inferiority_margin: float | None = Field(
        None, ge=0, description="pass only when shown worse by less than this (TOST lower test)"
    )
    higher_is_better: bool | None = Field(
        None, description="direction of the metric (default: from its name; see module doc)"
    )
    beat_trivial: bool = Field(
        False,
        description="require the candidate to be significantly above the metric's trivial "
        "baseline (majority class / constant answer)",
    )
    require_power: bool | None = Field(
        None, description="overrides the policy's require_power for this check"
    )
    per_category: bool = Field(
        False,
        description="apply the checks to METRIC@CATEGORY of every category of the task; each "
        "category must pass, each tested at alpha / (number of categories) (Bonferroni)",
    )
    params: dict[str, Any] = Field(
        default_factory=dict, description="task factory arguments when the gate runs the eval"
    )

    @model_validator(mode="after")
    def _has_a_check(self) -> CheckPolicy:
        if (
            all(
                v is None
                for v in (self.min, self.max, self.max_regression, self.non_inferiority_margin)
            )
            and not self.beat_trivial
        ):
            raise ValueError(
                "give at least one of min, max, max_regression, non_inferiority_margin, "
                "beat_trivial"
            )
        return self

    @property
    def lower_is_better(self) -> bool:
        """Whether lower values of the metric are better."""
        if self.higher_is_better is not None:
            return not self.higher_is_better
        return lower_is_better(self.metric)


class GatePolicy(_Strict):
    """A release-gate policy (``gate.yaml``)."""

    version: Literal[1] = 1
    alpha: float = Field(0.05, gt=0, lt=0.5, description="default significance level")
    on_inconclusive: Literal["fail", "pass"] = "fail"
    require_power: bool = Field(
        True,
        description="a regression check that cannot detect its max_regression with 80% power "
        "ends underpowered (treated as inconclusive)",
    )
    baseline: list[str] = Field(
        default_factory=lambda: ["runs/baselines"],
        description="baseline run folders (or folders of them), relative to the working directory",
    )
    candidate_adapter: str | None = Field(
        None, description="adapter name of the candidate when the runs hold several"
    )
    checks: list[CheckPolicy] = Field(min_length=1)
    suite: str | None = Field(
        None,
        description="suite file (examples/suites/*.yaml) whose tasks, params and limits the "
        "gate evaluates with --eval-adapter, instead of the checks' params",
    )
    contamination: Contamination = Field(
        "fail",
        description="a candidate adapter trained on items it is scored on: fail the gate, "
        "decide every check on the clean items only (clean_only), or only say so (warn)",
    )


def load_policy(path: Path) -> GatePolicy:
    """Reads and validates a policy; every problem is reported at once in one line."""
    import yaml

    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError as e:
        raise HarnessError(f"{path}: policy file not found") from e
    except yaml.YAMLError as e:
        raise HarnessError(f"{path}: not valid YAML: {' '.join(str(e).split())}") from e
    if isinstance(data, dict) and isinstance(data.get("baseline"), str):
        data["baseline"] = [data["baseline"]]
    try:
        return GatePolicy.model_validate(data)
    except ValidationError as e:
        errs = "; ".join(
            f"{'.'.join(map(str, err['loc'])) or '(top)'}: {err['msg']}" for err in e.errors()
        )
        raise HarnessError(f"{path}: {e.error_count()} error(s): {errs}") from e


@dataclass
class GateResult:
    """All check results of one gate run."""

    policy: GatePolicy
    results: list[CheckResult]

    @property
    def failed(self) -> list[CheckResult]:
        """Checks that fail the gate (inconclusive ones too, unless the policy says pass)."""
        unsure = {"inconclusive", "underpowered"}
        bad = {"fail"} | (unsure if self.policy.on_inconclusive == "fail" else set())
        return [r for r in self.results if r.status in bad]

    @property
    def skipped(self) -> list[CheckResult]:
        """Inconclusive (or underpowered) checks let through by ``on_inconclusive: pass``."""
        failed = {id(r) for r in self.failed}
        unsure = ("inconclusive", "underpowered")
        return [r for r in self.results if r.status in unsure and id(r) not in failed]

    @property
    def exit_code(self) -> int:
        """0 when every check passed, 1 otherwise."""
        return EXIT_FAIL if self.failed else EXIT_PASS


def _pick_candidate(task: str, runs: list[LoadedRun], adapter: str | None) -> LoadedRun | str:
    of_task = [r for r in runs if r.task == task]
    if adapter is not None:
        of_task = [r for r in of_task if r.adapter == adapter]
    elif any(r.adapter for r in of_task):
        of_task = [r for r in of_task if r.adapter]
    if len(of_task) == 1:
        return of_task[0]
    if not of_task:
        extra = f" with adapter {adapter!r}" if adapter else ""
        return f"no candidate run of task {task!r}{extra}"
    names = ", ".join(sorted(f"{r.label} ({r.path.name})" for r in of_task))
    return (
        f"{len(of_task)} candidate runs of task {task!r}: {names}; pass one run folder per "
        "task with --candidate, or name the adapter with --adapter / candidate_adapter"
    )


def _pick_baseline(
    cand: LoadedRun,
    candidates: list[LoadedRun],
    explicit: list[LoadedRun],
    fallback: list[LoadedRun],
) -> LoadedRun | None:
    paired = [r for r in candidates if r.adapter is None]
    for pool in [explicit] if explicit else [paired, fallback]:
        same_task = [r for r in pool if r.task == cand.task and r is not cand]
        gid = cand.record.group_id
        same_group = [r for r in same_task if gid is not None and r.record.group_id == gid]
        hits = same_group or ([] if pool is paired else same_task)
        if hits:
            return max(hits, key=lambda r: r.record.created_at)
    return None


def evaluate(
    policy: GatePolicy,
    candidates: list[LoadedRun],
    baselines: Sequence[LoadedRun] = (),
    fallback: Sequence[LoadedRun] = (),
    adapter: str | None = None,
    seed: int = 0,
) -> GateResult:
    """Runs every check of ``policy``; problems with the inputs raise one `HarnessError`.

    Args:
        policy: The validated policy.
        candidates: Candidate runs; base-model runs among them serve as paired baselines.
        baselines: Explicit baseline runs; when given, only these are compared with.
        fallback: Baselines used when a candidate has no base run in its group (the policy's
            ``baseline`` folders).
        adapter: Candidate adapter name (overrides ``policy.candidate_adapter``).
        seed: Seed of the paired bootstrap.

    Raises:
        HarnessError: One message listing each distinct problem once.
    """
    adapter = adapter or policy.candidate_adapter
    problems: list[str] = []
    results: list[CheckResult] = []
    candidates = clean_view(policy.contamination, candidates)
    ruled: set[Path] = set()
    for chk in policy.checks:
        cand = _pick_candidate(chk.task, candidates, adapter)
        if isinstance(cand, str):
            problems.append(cand)
            continue
        rule = None if cand.path in ruled else contamination_check(policy.contamination, cand)
        ruled.add(cand.path)
        results += [rule] if rule else []
        try:
            for sub, family in _family(policy, chk, cand):
                found = _bound_checks(policy, sub, cand, seed)
                if sub.max_regression is not None or sub.non_inferiority_margin is not None:
                    base = _pick_baseline(cand, candidates, list(baselines), list(fallback))
                    found.append(_regression_check(policy, sub, cand, base, seed))
                results += [_corrected(r, family) for r in found]
        except HarnessError as e:
            problems.append(str(e))
    if problems:
        raise HarnessError("; ".join(dict.fromkeys(problems)))
    return GateResult(policy, results)


def _family(
    policy: GatePolicy, chk: CheckPolicy, cand: LoadedRun
) -> list[tuple[CheckPolicy, dict[str, Any]]]:
    """The check itself, or with ``per_category: true`` one check of ``METRIC@CATEGORY`` per
    category of the candidate's task, each at the Bonferroni level alpha / k, so that the
    chance of any false failure among the k stays at most alpha."""
    if not chk.per_category:
        return [(chk, {})]
    key = cand.record.task.categories
    if key is None:
        raise HarnessError(
            f"{cand.path}: task {chk.task!r} declares no categories, so per_category: true has "
            "nothing to split; drop it or use a task with a category field (categories: FIELD)"
        )
    cats = sorted({c for s in cand.samples if s.scores for c in categories_of(s.metadata, key)})
    if not cats:
        raise HarnessError(f"{cand.path}: no scored item has a {key!r} category")
    alpha = chk.alpha or policy.alpha
    family = {
        "correction": "bonferroni",
        "family_size": len(cats),
        "family_alpha": alpha,
        "category_field": key,
    }
    update = {"per_category": False, "alpha": alpha / len(cats)}
    return [
        (chk.model_copy(update={**update, "metric": f"{chk.metric}@{c}"}), family) for c in cats
    ]


def _corrected(res: CheckResult, family: dict[str, Any]) -> CheckResult:
    """A per-category result carrying its correction in its numbers, reason and name."""
    if not family:
        return res
    res.numbers.update(family)
    k, alpha = family["family_size"], family["family_alpha"]
    res.reason += f" [Bonferroni over {k} categories: alpha {alpha:g}/{k} = {alpha / k:.4g}]"
    return res


def _evidence(cand: LoadedRun, metric: str) -> tuple[list[float], bool]:
    """The candidate's finite per-item values of ``metric`` and whether it is a corpus metric."""
    if cand.record.status != "complete":
        raise HarnessError(
            f"{cand.path}: run is {cand.record.status}; run it to completion "
            "(the same command resumes from the cache)"
        )
    mismatch = name_mismatch(cand, metric)
    if mismatch:
        raise HarnessError(mismatch)
    values = [float(v) for v in cand.values(metric).values() if v is not None and not math.isnan(v)]
    corpus = is_corpus(cand, metric)
    if not values and not corpus:
        known = sorted({k for s in cand.samples for sc in s.scores.values() for k in sc.values})
        raise HarnessError(
            f"{cand.path}: no per-item values of metric {metric!r} and no corpus "
            f"statistic of that name (per-item metrics: {', '.join(known) or 'none'})"
        )
    return values, corpus


def _bound_checks(
    policy: GatePolicy, chk: CheckPolicy, cand: LoadedRun, seed: int
) -> list[CheckResult]:
    """The ``min`` / ``max`` / ``beat_trivial`` checks of one policy entry."""
    alpha = chk.alpha or policy.alpha
    values, corpus = _evidence(cand, chk.metric)
    bounds: list[tuple[float, Literal["min", "max"]]] = []
    if chk.min is not None:
        bounds.append((chk.min, "min"))
    if chk.max is not None:
        bounds.append((chk.max, "max"))
    trivial = trivial_baseline(cand, chk.metric) if chk.beat_trivial else None
    if chk.beat_trivial and trivial is None:
        raise HarnessError(
            f"{cand.path}: metric {chk.metric!r} has no trivial baseline (beat_trivial needs a "
            "0/1 metric over a few distinct targets, or one its scorer declares)"
        )
    if trivial is not None:
        bounds.append((trivial[0], "min"))
    out: list[CheckResult] = []
    clustered = cluster_interval(cand, chk.metric, corpus, alpha, seed)
    for k, (bound, kind) in enumerate(bounds):
        if clustered is not None:
            point, interval, n = clustered
            res = check_interval(point, interval, bound, alpha, kind, chk.task, chk.metric, n)
        else:
            res = check_bound(values, bound, alpha, kind, chk.task, chk.metric)
        if trivial is not None and k == len(bounds) - 1:
            res = check_beats(res, trivial[1])
        res.numbers["candidate_run"] = str(cand.path)
        out.append(res)
    return out


def _regression_check(
    policy: GatePolicy,
    chk: CheckPolicy,
    cand: LoadedRun,
    base: LoadedRun | None,
    seed: int,
) -> CheckResult:
    alpha = chk.alpha or policy.alpha
    rc: RunComparison | None = None
    if base is not None:
        mismatch = name_mismatch(base, chk.metric)
        if mismatch:
            raise HarnessError(mismatch)
        rc = compare_metric(base, cand, chk.metric, alpha=2 * alpha, seed=seed)
    if rc is None or base is None:
        raise HarnessError(
            f"no baseline run of task {chk.task!r} with metric {chk.metric!r} "
            f"(pass --baseline or keep one under runs/baselines)"
        )
    require_power = policy.require_power if chk.require_power is None else chk.require_power
    res = check_regression(
        rc.result,
        alpha,
        chk.max_regression or 0.0,
        chk.non_inferiority_margin,
        chk.task,
        chk.metric,
        rc.label + (", corpus metric" if rc.corpus else ""),
        chk.lower_is_better,
        require_power,
    )
    res.reason += f" [baseline run {base.record.run_id}]"
    res.numbers["baseline_run"] = str(base.path)
    res.numbers["candidate_run"] = str(cand.path)
    return res


def run_candidate_evals(
    policy: GatePolicy,
    adapter_path: str,
    *,
    backend: str,
    backend_kw: dict[str, Any],
    runs_dir: Path,
    limit: int | None = None,
    seed: int = 1234,
    data_dir: Path | None = None,
    max_new_tokens: int | None = None,
    context: RunContext | None = None,
) -> list[Path]:
    """Evaluates every task of the policy for the base model and the candidate adapter.

    Base and adapter run in one engine on identical items, so their runs share a group and
    the gate compares them item by item. Returns the run folders written under ``runs_dir``.
    """
    from harness import DataOptions, RequestCache, RunContext, default_cache_path, get_task
    from harness._eval import run_eval

    params: dict[str, dict[str, Any]] = {}
    for c in policy.checks:  # the first check of a task gives its parameters
        params.setdefault(c.task, c.params)
    ctx = context or RunContext(cache=RequestCache(default_cache_path()))
    tasks: list[Any] = [get_task(name, **p) for name, p in params.items()]
    if policy.suite is not None:
        from harness._suite import load_suite

        tasks = load_suite(Path(policy.suite))
    results = run_eval(
        tasks,
        backend=backend,
        backend_options=backend_kw,
        adapters=[adapter_path],
        include_base=True,
        data=DataOptions(data_dir=data_dir, limit=limit, seed=seed),
        generation={"max_new_tokens": max_new_tokens, "seed": seed},
        context=replace(ctx, runs_dir=runs_dir),
    )
    return [r.folder for r in results if r.folder is not None]
