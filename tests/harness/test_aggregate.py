"""Metric aggregation: intervals against scipy, edge cases exact."""

from __future__ import annotations

import math

import pytest

from harness import bootstrap_metric, mean_metric, wilson_interval


@pytest.mark.parametrize(("k", "n"), [(0, 3), (3, 3), (0, 1), (7, 20), (50, 100)])
def test_wilson_matches_scipy_and_contains_estimate(k: int, n: int) -> None:
    from scipy.stats import binomtest

    lo, hi = wilson_interval(k, n)
    ref = binomtest(k, n).proportion_ci(confidence_level=0.95, method="wilson")
    assert lo == pytest.approx(ref.low, abs=1e-9) and hi == pytest.approx(ref.high, abs=1e-9)
    assert lo <= k / n <= hi
    if k == 0:
        assert lo == 0.0
    if k == n:
        assert hi == 1.0


def test_mean_metric_binary_uses_wilson_and_continuous_uses_normal() -> None:
    b = mean_metric([1, 0, 1, 1, None])
    assert b.method == "wilson" and b.n == 4 and b.value == 0.75
    c = mean_metric([0.5, 0.7, 0.9])
    assert c.method == "normal" and c.stderr == pytest.approx(0.2 / math.sqrt(3))
    assert c.ci_low == pytest.approx(0.7 - 1.959963984540054 * c.stderr)
    assert math.isnan(mean_metric([None]).value)


def test_bootstrap_is_deterministic_and_brackets_point() -> None:
    items = list(range(50))
    a = bootstrap_metric(items, lambda xs: sum(xs) / len(xs), resamples=300, seed=1)
    b = bootstrap_metric(items, lambda xs: sum(xs) / len(xs), resamples=300, seed=1)
    assert a == b and a.method == "bootstrap"
    assert a.ci_low < a.value < a.ci_high


def test_mean_metric_keeps_a_rate_inside_its_bounds() -> None:
    # WritingBench: per-sample parse-failure fractions over checklist items, two samples.
    free = mean_metric([0.4, 0.0])
    assert free.ci_low is not None and free.ci_low < 0  # the plain normal interval leaves [0, 1]
    rate = mean_metric([0.4, 0.0], bounds=(0.0, 1.0))
    assert rate.value == pytest.approx(0.2) and 0.0 <= rate.ci_low < 0.2 < rate.ci_high <= 1.0
    assert rate.method == "wilson-scaled"
