"""The statistical decisions behind each gate check: absolute bounds and regressions.

Each function takes per-item values or a `harness.stats.Comparison` and returns a
`CheckResult`: ``pass``, ``fail`` or ``inconclusive`` with the numbers that decided it. Every
decision is a one-sided test at level ``alpha`` reported with a two-sided ``1 - 2*alpha``
interval; `harness.gate` documents the rules and applies them to a policy.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Literal

from harness.stats import (
    Comparison,
    binom_cdf,
    clopper_pearson,
    detectable_name,
    format_p,
    is_binary,
    minimal_detectable_effect,
    non_inferiority_p,
    normal_ppf,
    required_n,
)

Status = Literal["pass", "fail", "inconclusive", "underpowered"]


@dataclass
class CheckResult:
    """The outcome of one check, with the numbers that decided it."""

    task: str
    metric: str
    check: Literal["min", "max", "regression", "beat_trivial", "contamination"]
    status: Status
    reason: str
    numbers: dict[str, Any] = field(default_factory=dict)

    @property
    def name(self) -> str:
        """Test-case name, e.g. ``accuracy min >= 0.3``; a check of one category among several
        (``per_category: true``) names its multiple-comparison correction, e.g.
        ``acc@anatomy min >= 0.3 [bonferroni over 57 categories]``."""
        n = self.numbers
        if "correction" in n:
            return f"{self._name()} [{n['correction']} over {n['family_size']} categories]"
        return self._name()

    def _name(self) -> str:
        n = self.numbers
        if self.check == "min":
            return f"{self.metric} min >= {n['bound']:g}"
        if self.check == "max":
            return f"{self.metric} max <= {n['bound']:g}"
        if self.check == "contamination":
            return f"contamination (policy {n['policy']})"
        if self.check == "beat_trivial":
            return f"{self.metric} beats trivial baseline {n['bound']:.4g}"
        return f"{self.metric} regression <= {n['max_regression']:g} vs baseline"


def _bound_evidence(
    values: list[float], bound: float, alpha: float
) -> tuple[float, float, bool, bool, str]:
    """(interval low, high, significantly below bound, significantly above bound, method)."""
    n = len(values)
    if is_binary(values):
        k = int(sum(values))
        lo, hi = clopper_pearson(k, n, 2 * alpha)
        below = binom_cdf(k, n, bound) < alpha  # P(X <= k | p = bound)
        above = 1 - binom_cdf(k - 1, n, bound) < alpha  # P(X >= k | p = bound)
        return lo, hi, below, above, "clopper-pearson"
    mean = sum(values) / n
    sd = math.sqrt(sum((v - mean) ** 2 for v in values) / (n - 1)) if n > 1 else 0.0
    half = normal_ppf(1 - alpha) * sd / math.sqrt(n)
    return mean - half, mean + half, mean + half < bound, mean - half > bound, "normal"


def check_bound(
    values: list[float],
    bound: float,
    alpha: float,
    kind: Literal["min", "max"],
    task: str = "",
    metric: str = "",
) -> CheckResult:
    """Absolute ``min`` or ``max`` check on the candidate's per-item values (one-sided).

    Fails when the mean is significantly beyond the bound at level ``alpha``, passes when it
    is significantly within it or the bound cannot be crossed (min 0, max 1 for a 0/1 metric),
    and is inconclusive otherwise.
    """
    mean = sum(values) / len(values)
    lo, hi, below, above, method = _bound_evidence(values, bound, alpha)
    beyond, within = (below, above) if kind == "min" else (above, below)
    if is_binary(values) and ((kind == "min" and bound <= 0) or (kind == "max" and bound >= 1)):
        within = True  # a rate cannot cross this bound
    nums = {
        "bound": bound,
        "value": mean,
        "ci_low": lo,
        "ci_high": hi,
        "n": len(values),
        "alpha": alpha,
        "interval": method,
    }
    ci = f"{mean:.4f} [{lo:.4f}, {hi:.4f}] ({1 - 2 * alpha:.0%} {method}, n={len(values)})"
    return _bound_result(task, metric, kind, bound, ci, beyond, within, nums)


def _bound_result(
    task: str,
    metric: str,
    kind: Literal["min", "max"],
    bound: float,
    ci: str,
    beyond: bool,
    within: bool,
    nums: dict[str, Any],
) -> CheckResult:
    """Fail beyond the bound, pass within it, inconclusive otherwise."""
    side = "below" if kind == "min" else "above"
    if beyond:
        why = f"{ci}: significantly {side} {kind} {bound:g}"
        return CheckResult(task, metric, kind, "fail", why, nums)
    if within:
        why = f"{ci}: significantly within {kind} {bound:g}"
        return CheckResult(task, metric, kind, "pass", why, nums)
    why = f"{ci} straddles {kind} {bound:g}; evaluate more items"
    return CheckResult(task, metric, kind, "inconclusive", why, nums)


def check_interval(
    point: float,
    interval: tuple[float, float],
    bound: float,
    alpha: float,
    kind: Literal["min", "max"],
    task: str = "",
    metric: str = "",
    n: str = "",
) -> CheckResult:
    """``min`` / ``max`` check from a two-sided ``1 - 2*alpha`` bootstrap interval (corpus
    metrics and clustered items): beyond the bound when the whole interval is, within it when
    the whole interval is, inconclusive otherwise."""
    lo, hi = interval
    nums = {"bound": bound, "value": point, "ci_low": lo, "ci_high": hi, "n": n, "alpha": alpha}
    nums["interval"] = "bootstrap"
    ci = f"{point:.4f} [{lo:.4f}, {hi:.4f}] ({1 - 2 * alpha:.0%} bootstrap, n={n})"
    beyond, within = (hi < bound, lo > bound) if kind == "min" else (lo > bound, hi < bound)
    return _bound_result(task, metric, kind, bound, ci, beyond, within, nums)


def check_beats(bound_check: CheckResult, rule: str) -> CheckResult:
    """``beat_trivial``: a ``min`` check against the trivial baseline that passes only when the
    candidate is significantly above it (anything else fails: no evidence of real skill)."""
    r = bound_check
    status: Status = "pass" if r.status == "pass" else "fail"
    verdict = "beats" if status == "pass" else "is not shown to beat"
    head = r.reason.split(":")[0].split(" straddles")[0]
    reason = f"{head}: {verdict} the trivial baseline {r.numbers['bound']:.4g} ({rule})"
    return CheckResult(r.task, r.metric, "beat_trivial", status, reason, dict(r.numbers))


def check_min(
    values: list[float], minimum: float, alpha: float, task: str = "", metric: str = ""
) -> CheckResult:
    """Absolute-minimum check (see `check_bound`)."""
    return check_bound(values, minimum, alpha, "min", task, metric)


def check_regression(
    comp: Comparison,
    alpha: float,
    max_regression: float = 0.0,
    margin: float | None = None,
    task: str = "",
    metric: str = "",
    label: str = "",
    lower_is_better: bool = False,
    require_power: bool = True,
) -> CheckResult:
    """Regression (and optional non-inferiority) check of a candidate-vs-baseline comparison.

    Args:
        comp: The comparison; build it with interval alpha ``2 * alpha`` so the interval shown
            matches the one-sided tests.
        alpha: One-sided significance level of the drop test and the non-inferiority test.
        max_regression: Largest worsening that does not fail even when significant.
        margin: Non-inferiority margin; None skips the non-inferiority test.
        task: Task name, for the result.
        metric: Metric name, for the result.
        label: How the runs were paired, for the reason text.
        lower_is_better: Worse means higher (error rates, perplexity).
        require_power: A check with no significant drop whose minimal detectable effect (80%
            power) exceeds a ``max_regression`` > 0 ends ``underpowered`` when its interval
            straddles ``-max_regression``; an interval wholly on one side decides it.
    """
    mde = minimal_detectable_effect(comp.se, alpha)
    nums: dict[str, Any] = {
        "max_regression": max_regression,
        **comp.to_dict(),
        "alpha": alpha,
        "lower_is_better": lower_is_better,
        "minimal_detectable_effect": mde,
        "minimal_detectable_effect_is": detectable_name(alpha),
        "n_required": required_n(comp.n, mde, max_regression),
    }
    if label:
        nums["pairing"] = label
    harm = comp.delta if lower_is_better else -comp.delta  # > 0: the candidate is worse
    p_harm = comp.p_higher if lower_is_better else comp.p_lower
    desc = _describe(comp, p_harm, label, lower_is_better, mde, alpha)
    significant = harm > 0 and p_harm < alpha
    if significant and harm > max_regression:
        return CheckResult(
            task,
            metric,
            "regression",
            "fail",
            f"{desc}: significantly worse (p < {alpha:g}) by more than {max_regression:g}",
            nums,
        )
    if margin is None:
        if not significant and require_power and max_regression > 0 and mde > max_regression:
            return _power_check(
                comp, (task, metric, desc), alpha, max_regression, lower_is_better, nums
            )
        why = (
            f"worse by no more than {max_regression:g}"
            if significant
            else "not significantly worse"
        )
        return CheckResult(task, metric, "regression", "pass", f"{desc}: {why}", nums)
    p_ni = non_inferiority_p(comp, margin, lower_is_better)
    nums.update(non_inferiority_margin=margin, non_inferiority_p=p_ni)
    p_text = format_p(p_ni, comp.resamples)
    if p_ni < alpha:
        return CheckResult(
            task,
            metric,
            "regression",
            "pass",
            f"{desc}: non-inferior within {margin:g} (p {_rel(p_text)})",
            nums,
        )
    return CheckResult(
        task,
        metric,
        "regression",
        "inconclusive",
        f"{desc}: not shown non-inferior within {margin:g} (p {_rel(p_text)}); evaluate more items",
        nums,
    )


def _power_check(
    comp: Comparison,
    names: tuple[str, str, str],
    alpha: float,
    max_regression: float,
    lower_is_better: bool,
    nums: dict[str, Any],
) -> CheckResult:
    """A check without a significant drop, at an n too small to detect ``max_regression``.

    Low power only matters when the evidence is inconclusive: when the ``1 - 2*alpha``
    interval already lies wholly on one side of the failing threshold (``-max_regression``,
    mirrored for lower-is-better metrics), the check passes or fails on that interval.
    """
    worst, best = (comp.ci_high, comp.ci_low) if lower_is_better else (-comp.ci_low, -comp.ci_high)
    task, metric, desc = names
    level = f"{1 - 2 * alpha:.0%} interval"
    if worst < max_regression:  # the whole interval is better than the failing threshold
        why = f"{desc}: the {level} excludes a worsening of more than {max_regression:g}"
        return CheckResult(task, metric, "regression", "pass", why, nums)
    if best > max_regression:
        why = f"{desc}: the {level} lies wholly beyond a worsening of {max_regression:g}"
        return CheckResult(task, metric, "regression", "fail", why, nums)
    mde, need = nums["minimal_detectable_effect"], nums["n_required"]
    return CheckResult(
        task,
        metric,
        "regression",
        "underpowered",
        f"{desc}: not significantly worse and the {level} straddles a worsening of "
        f"{max_regression:g}, but at n={comp.n} only a drop of {mde:.4g} or more is "
        f"detected with 80% power; evaluate about {need} items",
        nums,
    )


def _rel(p_text: str) -> str:
    """``= 0.03`` or ``< 1/2000``."""
    return p_text if p_text.startswith("<") else f"= {p_text}"


def _describe(
    comp: Comparison, p_harm: float, label: str, lower_is_better: bool, mde: float, alpha: float
) -> str:
    flips = ""
    if comp.worse is not None and comp.better is not None:
        got_worse, got_better = (
            (comp.better, comp.worse) if lower_is_better else (comp.worse, comp.better)
        )
        flips = f", {got_worse} right->wrong / {got_better} wrong->right"
    return (
        f"delta {comp.delta:+.4f} [{comp.ci_low:+.4f}, {comp.ci_high:+.4f}] "
        f"({comp.baseline:.4f} -> {comp.candidate:.4f}, {comp.test} "
        f"p(worse) {_rel(format_p(p_harm, comp.resamples))}, n={comp.n}{flips}"
        f"{', ' + label if label else ''}"
        f"{', lower is better' if lower_is_better else ''}, {detectable_name(alpha)} {mde:.4g})"
    )
