"""The CI release gate: a YAML policy of per-task checks, decided with paired statistics.

A policy lists, per task and metric, an absolute minimum and/or the largest regression allowed
against a baseline run, a significance level and an optional non-inferiority margin. Each
check ends ``pass``, ``fail`` or ``inconclusive`` together with the numbers that decided it.
Every decision is a one-sided test at level ``alpha``, shown as a two-sided ``1 - 2*alpha``
interval (90% for alpha 0.05), as in a TOST:

* ``min``: fail when the candidate's metric is significantly below the minimum, pass when it
  is significantly at or above it, inconclusive otherwise (exact binomial tests and a
  Clopper-Pearson interval for 0/1 metrics; a normal interval for continuous ones).
* ``regression``: fail when the candidate is significantly worse than the baseline (one-sided
  p < alpha: exact McNemar for paired 0/1 metrics, paired bootstrap for continuous ones, a
  z-test for unpaired runs; so at most alpha of identical reruns fail) *and* the observed drop
  exceeds ``max_regression``. With a ``non_inferiority_margin``, a check that did not fail
  passes only when the candidate is shown worse by less than the margin (the interval's lower
  end lies above ``-margin``); otherwise it is inconclusive.

Inconclusive checks fail the gate unless the policy says ``on_inconclusive: pass``. Exit codes:
0 every check passed, 1 some check failed, 2 usage or data error (bad policy, missing run).

The baseline of a candidate run is, in order: the explicitly given baseline runs; else the
base-model run evaluated with it in one engine (same ``group_id``: the strongest, paired
comparison); else the policy's ``baseline`` folders (``runs/baselines``). `run_candidate_evals`
produces such a paired base + adapter group for every task of the policy.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal
from xml.etree import ElementTree as ET

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from harness._errors import HarnessError
from harness._runset import LoadedRun, RunComparison, compare_runs
from harness.stats import (
    Comparison,
    binom_cdf,
    clopper_pearson,
    is_binary,
    non_inferiority_p,
    normal_ppf,
)

Status = Literal["pass", "fail", "inconclusive"]
EXIT_PASS, EXIT_FAIL, EXIT_ERROR = 0, 1, 2


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class CheckPolicy(_Strict):
    """One task metric's checks."""

    task: str = Field(description="task registry name, as in the run record")
    metric: str = Field(description="metric name in run.json (or scorer/metric)")
    min: float | None = Field(None, description="absolute minimum of the candidate's metric")
    max_regression: float | None = Field(
        None, ge=0,
        description="largest drop vs the baseline allowed (0: any significant drop fails)")
    alpha: float | None = Field(None, gt=0, lt=0.5, description="overrides the policy's alpha")
    non_inferiority_margin: float | None = Field(
        None, ge=0, description="pass only when shown worse by less than this (TOST lower test)")
    params: dict[str, Any] = Field(
        default_factory=dict, description="task factory arguments when the gate runs the eval")

    @model_validator(mode="after")
    def _has_a_check(self) -> CheckPolicy:
        if self.min is None and self.max_regression is None and self.non_inferiority_margin is None:
            raise ValueError("give at least one of min, max_regression, non_inferiority_margin")
        return self


class GatePolicy(_Strict):
    """A release-gate policy (``gate.yaml``)."""

    version: Literal[1] = 1
    alpha: float = Field(0.05, gt=0, lt=0.5, description="default significance level")
    on_inconclusive: Literal["fail", "pass"] = "fail"
    baseline: list[str] = Field(
        default_factory=lambda: ["runs/baselines"],
        description="baseline run folders (or folders of them), relative to the working directory")
    candidate_adapter: str | None = Field(
        None, description="adapter name of the candidate when the runs hold several")
    checks: list[CheckPolicy] = Field(min_length=1)


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
            f"{'.'.join(map(str, err['loc'])) or '(top)'}: {err['msg']}" for err in e.errors())
        raise HarnessError(f"{path}: {e.error_count()} error(s): {errs}") from e


@dataclass
class CheckResult:
    """The outcome of one check, with the numbers that decided it."""

    task: str
    metric: str
    check: Literal["min", "regression"]
    status: Status
    reason: str
    numbers: dict[str, Any] = field(default_factory=dict)

    @property
    def name(self) -> str:
        """Test-case name, e.g. ``accuracy min >= 0.3``."""
        n = self.numbers
        if self.check == "min":
            return f"{self.metric} min >= {n['min']:g}"
        return f"{self.metric} regression <= {n['max_regression']:g} vs baseline"


def _min_evidence(values: list[float], minimum: float,
                  alpha: float) -> tuple[float, float, bool, bool, str]:
    """(interval low, high, significantly below, significantly at/above, method)."""
    n = len(values)
    if is_binary(values):
        k = int(sum(values))
        lo, hi = clopper_pearson(k, n, 2 * alpha)
        below = binom_cdf(k, n, minimum) < alpha  # P(X <= k | p = min)
        above = minimum <= 0 or 1 - binom_cdf(k - 1, n, minimum) < alpha  # P(X >= k | min)
        return lo, hi, below, above, "clopper-pearson"
    mean = sum(values) / n
    sd = math.sqrt(sum((v - mean) ** 2 for v in values) / (n - 1)) if n > 1 else 0.0
    half = normal_ppf(1 - alpha) * sd / math.sqrt(n)
    return mean - half, mean + half, mean + half < minimum, mean - half >= minimum, "normal"


def check_min(values: list[float], minimum: float, alpha: float, task: str = "",
              metric: str = "") -> CheckResult:
    """Absolute-minimum check on per-item values of the candidate (one-sided, level alpha)."""
    mean = sum(values) / len(values)
    lo, hi, below, above, method = _min_evidence(values, minimum, alpha)
    nums = {"min": minimum, "value": mean, "ci_low": lo, "ci_high": hi, "n": len(values),
            "alpha": alpha, "interval": method}
    ci = f"{mean:.4f} [{lo:.4f}, {hi:.4f}] ({1 - 2 * alpha:.0%} {method}, n={len(values)})"
    if below:
        return CheckResult(task, metric, "min", "fail",
                           f"{ci}: significantly below min {minimum:g}", nums)
    if above:
        return CheckResult(task, metric, "min", "pass",
                           f"{ci}: significantly at or above min {minimum:g}", nums)
    return CheckResult(task, metric, "min", "inconclusive",
                       f"{ci} straddles min {minimum:g}; evaluate more items", nums)


def check_regression(comp: Comparison, alpha: float, max_regression: float = 0.0,
                     margin: float | None = None, task: str = "", metric: str = "",
                     label: str = "") -> CheckResult:
    """Regression (and optional non-inferiority) check of a candidate-vs-baseline comparison.

    Args:
        comp: The comparison; build it with interval alpha ``2 * alpha`` so the interval shown
            matches the one-sided tests.
        alpha: One-sided significance level of the drop test and the non-inferiority test.
        max_regression: Largest drop that does not fail even when significant.
        margin: Non-inferiority margin; None skips the non-inferiority test.
        task: Task name, for the result.
        metric: Metric name, for the result.
        label: How the runs were paired, for the reason text.
    """
    nums: dict[str, Any] = {"max_regression": max_regression, **comp.to_dict(), "alpha": alpha}
    if label:
        nums["pairing"] = label
    flips = (f", {comp.worse} right->wrong / {comp.better} wrong->right"
             if comp.worse is not None else "")
    desc = (f"delta {comp.delta:+.4f} [{comp.ci_low:+.4f}, {comp.ci_high:+.4f}] "
            f"({comp.baseline:.4f} -> {comp.candidate:.4f}, {comp.test} "
            f"p(worse)={comp.p_worse:.4g}, n={comp.n}{flips}{', ' + label if label else ''})")
    worse = comp.delta < 0 and comp.p_worse < alpha
    if worse and -comp.delta > max_regression:
        return CheckResult(task, metric, "regression", "fail",
                           f"{desc}: significant drop (p < {alpha:g}) larger than "
                           f"{max_regression:g}", nums)
    if margin is None:
        why = f"drop within {max_regression:g}" if worse else "no significant drop"
        return CheckResult(task, metric, "regression", "pass", f"{desc}: {why}", nums)
    p_ni = non_inferiority_p(comp, margin)
    nums.update(non_inferiority_margin=margin, non_inferiority_p=p_ni)
    if p_ni < alpha:
        return CheckResult(task, metric, "regression", "pass",
                           f"{desc}: non-inferior within {margin:g} (p={p_ni:.4g})", nums)
    return CheckResult(task, metric, "regression", "inconclusive",
                       f"{desc}: not shown non-inferior within {margin:g} (p={p_ni:.4g}); "
                       "evaluate more items", nums)


@dataclass
class GateResult:
    """All check results of one gate run."""

    policy: GatePolicy
    results: list[CheckResult]

    @property
    def failed(self) -> list[CheckResult]:
        """Checks that fail the gate (inconclusive ones too, unless the policy says pass)."""
        bad = {"fail"} | ({"inconclusive"} if self.policy.on_inconclusive == "fail" else set())
        return [r for r in self.results if r.status in bad]

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
    names = ", ".join(sorted(r.label for r in of_task))
    return f"{len(of_task)} candidate runs of task {task!r} ({names}); set candidate_adapter"


def _pick_baseline(cand: LoadedRun, candidates: list[LoadedRun], explicit: list[LoadedRun],
                   fallback: list[LoadedRun]) -> LoadedRun | None:
    paired = [r for r in candidates if r.adapter is None]
    for pool in ([explicit] if explicit else [paired, fallback]):
        same_task = [r for r in pool if r.task == cand.task and r is not cand]
        gid = cand.record.group_id
        same_group = [r for r in same_task if gid is not None and r.record.group_id == gid]
        hits = same_group or ([] if pool is paired else same_task)
        if hits:
            return max(hits, key=lambda r: r.record.created_at)
    return None


def evaluate(policy: GatePolicy, candidates: list[LoadedRun],
             baselines: Sequence[LoadedRun] = (), fallback: Sequence[LoadedRun] = (),
             adapter: str | None = None, seed: int = 0) -> GateResult:
    """Runs every check of ``policy``; problems with the inputs raise one `HarnessError`.

    Args:
        policy: The validated policy.
        candidates: Candidate runs; base-model runs among them serve as paired baselines.
        baselines: Explicit baseline runs; when given, only these are compared with.
        fallback: Baselines used when a candidate has no base run in its group (the policy's
            ``baseline`` folders).
        adapter: Candidate adapter name (overrides ``policy.candidate_adapter``).
        seed: Seed of the paired bootstrap.
    """
    adapter = adapter or policy.candidate_adapter
    problems: list[str] = []
    results: list[CheckResult] = []
    for chk in policy.checks:
        alpha = chk.alpha or policy.alpha
        cand = _pick_candidate(chk.task, candidates, adapter)
        if isinstance(cand, str):
            problems.append(cand)
            continue
        values = [float(v) for v in cand.values(chk.metric).values()
                  if v is not None and not math.isnan(float(v))]
        if not values:
            problems.append(f"{cand.path}: no per-item values of metric {chk.metric!r}")
            continue
        if chk.min is not None:
            results.append(check_min(values, chk.min, alpha, chk.task, chk.metric))
        if chk.max_regression is None and chk.non_inferiority_margin is None:
            continue
        base = _pick_baseline(cand, candidates, list(baselines), list(fallback))
        rc: RunComparison | None = None
        if base is not None:
            rc = compare_runs(base, cand, chk.metric, alpha=2 * alpha, seed=seed)
        if rc is None:
            problems.append(f"no baseline run of task {chk.task!r} with metric {chk.metric!r} "
                            f"(pass --baseline or keep one under runs/baselines)")
            continue
        res = check_regression(rc.result, alpha, chk.max_regression or 0.0,
                               chk.non_inferiority_margin, chk.task, chk.metric, rc.label)
        res.reason += f" [baseline run {base.record.run_id}]" if base else ""
        res.numbers["baseline_run"] = str(base.path) if base else None
        res.numbers["candidate_run"] = str(cand.path)
        results.append(res)
    if problems:
        raise HarnessError("; ".join(problems))
    return GateResult(policy, results)


def run_candidate_evals(policy: GatePolicy, adapter_path: str, *, backend: str,
                        backend_kw: dict[str, Any], runs_dir: Path, limit: int | None = None,
                        seed: int = 1234, data_dir: Path | None = None,
                        max_new_tokens: int | None = None) -> list[Path]:
    """Evaluates every task of the policy for the base model and the candidate adapter.

    Base and adapter run in one engine on identical items, so their runs share a group and
    the gate compares them item by item. Returns the run folders written under ``runs_dir``.
    """
    from harness import DataOptions, RequestCache, default_cache_path, get_task, with_overrides
    from harness._adapters import load_adapter
    from harness._runner import evaluate as run_task
    from harness.backends import build_backend

    spec = load_adapter(adapter_path)
    folders: list[Path] = []
    engine = build_backend(backend, **backend_kw)
    try:
        tasks: dict[str, dict[str, Any]] = {}
        for c in policy.checks:  # the first check of a task gives its parameters
            tasks.setdefault(c.task, c.params)
        for name, task_params in tasks.items():
            task = get_task(name, **task_params)
            params = with_overrides(task.generation, max_new_tokens=max_new_tokens, seed=seed)
            results = run_task(task, engine, adapters=[spec], include_base=True,
                               data=DataOptions(data_dir=data_dir, limit=limit, seed=seed),
                               generation=params, cache=RequestCache(default_cache_path()),
                               runs_dir=runs_dir)
            folders += [r.folder for r in results if r.folder is not None]
    finally:
        engine.close()
    return folders


def to_junit(result: GateResult) -> str:
    """JUnit XML with one testcase per check (inconclusive-as-fail reported as a failure)."""
    failed = {id(r) for r in result.failed}
    suite = ET.Element("testsuite", name="harness-gate", tests=str(len(result.results)),
                       failures=str(len(failed)), errors="0", skipped="0")
    for r in result.results:
        case = ET.SubElement(suite, "testcase", classname=f"gate.{r.task}", name=r.name, time="0")
        if id(r) in failed:
            fail = ET.SubElement(case, "failure", message=f"{r.status}: {r.reason}", type=r.status)
            fail.text = "\n".join(f"{k} = {v}" for k, v in r.numbers.items())
        out = ET.SubElement(case, "system-out")
        out.text = f"{r.status}: {r.reason}"
    root = ET.Element("testsuites", name="harness-gate", tests=suite.get("tests", "0"),
                      failures=suite.get("failures", "0"))
    root.append(suite)
    ET.indent(root)
    return ET.tostring(root, encoding="unicode", xml_declaration=True) + "\n"


_ICON = {"pass": "✅ pass", "fail": "❌ fail", "inconclusive": "⚠️ inconclusive"}


def to_markdown(result: GateResult) -> str:
    """A Markdown summary: verdict, then one table row per check."""
    verdict = "FAILED" if result.failed else "PASSED"
    lines = [f"## harness gate: {verdict}", "",
             f"{len(result.results)} checks, {len(result.failed)} failing "
             f"(inconclusive counts as {result.policy.on_inconclusive}).", "",
             "| task | check | status | evidence |", "| --- | --- | --- | --- |"]
    for r in result.results:
        reason = r.reason.replace("|", "\\|")
        lines.append(f"| {r.task} | {r.name} | {_ICON[r.status]} | {reason} |")
    return "\n".join(lines) + "\n"
