"""Golden tests of harness.stats against scipy and direct computation, plus pairing rules."""

from __future__ import annotations

import math
from types import SimpleNamespace

import numpy as np
import pytest
from scipy import stats as sps

from harness.stats import (
    binom_cdf,
    bootstrap_mean_diffs,
    clopper_pearson,
    compare,
    mcnemar_exact,
    non_inferiority_p,
    normal_ppf,
    pair_samples,
    paired_binary,
    paired_bootstrap,
    unpaired,
)


@pytest.mark.parametrize(
    ("b", "c"), [(0, 0), (1, 0), (10, 2), (2, 10), (7, 7), (30, 12), (120, 95), (3, 40), (0, 9)]
)
def test_mcnemar_matches_scipy_binomtest(b: int, c: int) -> None:
    expected = 1.0 if b + c == 0 else sps.binomtest(min(b, c), b + c, 0.5).pvalue
    assert mcnemar_exact(b, c) == pytest.approx(expected, rel=1e-12, abs=1e-15)


@pytest.mark.parametrize(
    ("k", "n", "p"),
    [
        (340, 500, 0.7),
        (0, 10, 0.3),
        (3, 5000, 0.01),
        (4990, 5000, 0.999),
        (12, 13, 0.5),
        (7, 7, 0.2),
    ],
)
def test_binom_cdf_matches_scipy(k: int, n: int, p: float) -> None:
    assert binom_cdf(k, n, p) == pytest.approx(sps.binom.cdf(k, n, p), rel=1e-9)


@pytest.mark.parametrize(
    ("k", "n", "level"),
    [(340, 500, 0.9), (0, 20, 0.9), (20, 20, 0.95), (1, 3, 0.95), (57, 100, 0.99)],
)
def test_clopper_pearson_matches_scipy(k: int, n: int, level: float) -> None:
    ref = sps.binomtest(k, n).proportion_ci(level, method="exact")
    lo, hi = clopper_pearson(k, n, 1 - level)
    assert lo == pytest.approx(ref.low, abs=1e-10) and hi == pytest.approx(ref.high, abs=1e-10)


def test_mcnemar_known_value() -> None:
    # 2 * P(X <= 2), X ~ Bin(12, 1/2) = 2 * (1 + 12 + 66) / 4096
    assert mcnemar_exact(10, 2) == pytest.approx(158 / 4096, rel=1e-15)


def test_paired_binary_counts_flips_and_direction() -> None:
    base = [1] * 60 + [0] * 40
    cand = [1] * 45 + [0] * 15 + [1] * 5 + [0] * 35  # 15 right->wrong, 5 wrong->right
    r = paired_binary(base, cand)
    assert (r.worse, r.better, r.n) == (15, 5, 100)
    assert r.delta == pytest.approx(-0.10)
    assert r.p_value == pytest.approx(sps.binomtest(5, 20, 0.5).pvalue)
    assert r.ci_low < r.delta < r.ci_high < 0.0


def test_paired_binary_interval_covers_by_simulation() -> None:
    rng = np.random.default_rng(7)
    hits = 0
    trials = 1500
    for _ in range(trials):
        p = rng.beta(1.4, 0.6, size=200)
        base = (rng.random(200) < p).astype(float)
        cand = (rng.random(200) < np.clip(p - 0.03, 0, 1)).astype(float)
        r = paired_binary(base.tolist(), cand.tolist())
        true_delta = float(np.mean(np.clip(p - 0.03, 0, 1) - p))
        hits += r.ci_low <= true_delta <= r.ci_high
    assert 0.93 <= hits / trials <= 0.975


def test_paired_bootstrap_matches_scipy_percentile_interval() -> None:
    rng = np.random.default_rng(3)
    base = rng.normal(0.6, 0.2, 300)
    cand = base + rng.normal(-0.02, 0.05, 300)
    r = paired_bootstrap(base.tolist(), cand.tolist(), resamples=20000, seed=1)
    ref = sps.bootstrap(
        (cand - base,),
        np.mean,
        method="percentile",
        n_resamples=20000,
        confidence_level=0.95,
        random_state=np.random.default_rng(2),
    )
    assert r.delta == pytest.approx(float(np.mean(cand - base)), rel=1e-12)
    assert r.ci_low == pytest.approx(ref.confidence_interval.low, abs=0.0015)
    assert r.ci_high == pytest.approx(ref.confidence_interval.high, abs=0.0015)
    assert r.p_value < 0.001 and r.kind == "paired-continuous"


def test_bootstrap_draws_match_a_direct_loop() -> None:
    diffs = [0.5, -0.25, 0.0, 1.0, -1.0, 0.75, 0.1]
    got = bootstrap_mean_diffs(diffs, resamples=50, seed=11)
    rng = np.random.default_rng(11)
    idx = rng.integers(0, len(diffs), size=(50, len(diffs)))
    expected = [sum(diffs[j] for j in row) / len(diffs) for row in idx]
    assert got.tolist() == pytest.approx(expected, rel=1e-12)


def test_unpaired_matches_normal_test() -> None:
    rng = np.random.default_rng(5)
    a, b = rng.normal(0.5, 0.1, 80), rng.normal(0.53, 0.12, 120)
    r = unpaired(a.tolist(), b.tolist())
    se = math.sqrt(a.var(ddof=1) / 80 + b.var(ddof=1) / 120)
    assert r.delta == pytest.approx(b.mean() - a.mean())
    assert r.p_value == pytest.approx(2 * sps.norm.sf(abs(r.delta) / se), rel=1e-9)
    assert r.ci_high - r.ci_low == pytest.approx(2 * sps.norm.ppf(0.975) * se, rel=1e-9)
    assert r.worse is None and r.kind == "unpaired"


def test_normal_ppf_matches_scipy() -> None:
    for p in (0.001, 0.025, 0.05, 0.5, 0.9, 0.975):
        assert normal_ppf(p) == pytest.approx(sps.norm.ppf(p), abs=1e-9)


def test_non_inferiority_agrees_with_interval() -> None:
    base = [1] * 350 + [0] * 150
    cand = base[:]
    for i in range(12):  # 12 right->wrong, 4 wrong->right: delta -0.016
        cand[i] = 0
    for i in range(350, 354):
        cand[i] = 1
    r = paired_binary(base, cand, alpha=0.05)
    for margin in (0.005, 0.02, 0.03, 0.06):
        p = non_inferiority_p(r, margin)
        assert (p < 0.025) == (r.ci_low > -margin), margin
    assert non_inferiority_p(r, 0.06) < 0.001 < non_inferiority_p(r, 0.005)
    # Mirrored (lower is better): the drop is an improvement, so it is non-inferior.
    assert non_inferiority_p(r, 0.005, lower_is_better=True) < 0.01
    assert r.p_lower == pytest.approx(sps.binomtest(4, 16, 0.5, alternative="less").pvalue)
    assert r.p_higher == pytest.approx(sps.binomtest(12, 16, 0.5, alternative="less").pvalue)


def test_compare_dispatches_on_data() -> None:
    assert compare([1, 0, 1], [1, 1, 1], paired=True).test == "mcnemar-exact"
    assert compare([0.2, 0.4, 0.9], [0.3, 0.4, 0.8], paired=True).test == "paired-bootstrap"
    assert compare([1, 0, 1], [1, 1], paired=False).test == "z"
    with pytest.raises(ValueError, match="equal lengths"):
        paired_binary([1, 0], [1])


def _s(i: str, target: object) -> SimpleNamespace:
    return SimpleNamespace(id=i, target=target)


def test_pair_samples_checks_ids_and_targets() -> None:
    base = [_s("a", "1"), _s("b", ["x", "y"]), _s("c", 3)]
    same = [_s("c", 3), _s("a", "1"), _s("b", ["x", "y"])]
    p = pair_samples(base, same)
    assert p.paired and p.ids == ["a", "b", "c"] and p.reason is None
    p = pair_samples(base, [_s("a", "1"), _s("b", ["x", "y"]), _s("d", 3)])
    assert not p.paired and p.reason == "item ids differ (1 only in baseline, 1 only in candidate)"
    p = pair_samples(base, [_s("a", "1"), _s("b", ["x", "z"]), _s("c", 3)])
    assert not p.paired and p.reason == "targets differ on 1 items (first: 'b')"
    p = pair_samples([*base, _s("a", "1")], same)
    assert not p.paired and "repeat" in (p.reason or "")


def test_bounded_mean_interval_stays_inside_the_scale() -> None:
    from harness._aggregate import mean_metric

    two = mean_metric([2.0, 9.0], bounds=(1.0, 10.0))  # the judge case of issue 12
    assert 1.0 <= two.ci_low < 2.0 and 9.0 < two.ci_high <= 10.0
    one = mean_metric([7.0], bounds=(1.0, 10.0))  # n=1: wide, not zero-width
    assert one.ci_high - one.ci_low > 5 and one.method == "wilson-scaled" and one.n == 1


def test_p_below_bootstrap_resolution_prints_as_bound() -> None:
    from harness.stats import format_p, paired_bootstrap

    comp = paired_bootstrap([0.0] * 50, [1.0] * 50, resamples=500)
    assert comp.p_value == pytest.approx(2 / 501)
    assert format_p(comp.p_higher, comp.resamples) == "< 1/500"
    assert format_p(0.0312, 2000) == "0.0312" and format_p(0.0312) == "0.0312"


def test_cluster_bootstrap_counts_clusters_not_items() -> None:
    from harness.stats import compare

    base = [0.0] * 10
    cand = [1.0] * 6 + [0.0] * 4
    clusters = ["a"] * 6 + ["b", "b", "c", "d"]  # 4 meaning representations
    plain = compare(base, cand, paired=True)
    clustered = compare(base, cand, paired=True, clusters=clusters)
    assert plain.test == "mcnemar-exact" and plain.p_value < 0.05
    assert clustered.test == "cluster-sign-flip-exact" and clustered.clusters == 4
    assert clustered.p_value > 0.05 and (clustered.worse, clustered.better) == (0, 6)


def test_minimal_detectable_effect_and_required_n() -> None:
    from harness.stats import minimal_detectable_effect, required_n

    mde = minimal_detectable_effect(0.01, 0.05)
    assert mde == pytest.approx((1.644854 + 0.841621) * 0.01, rel=1e-5)
    assert required_n(100, 0.1, 0.05) == 400
    assert required_n(100, 0.1, 0.0) is None


def test_paired_corpus_statistic_of_identical_systems_is_null() -> None:
    import numpy as np

    from harness.stats import paired_statistic

    stats = np.arange(20, dtype=float)
    f = lambda idx: float(stats[idx].sum() / len(idx))  # noqa: E731
    comp = paired_statistic(f, f, 20, resamples=200)
    assert comp.delta == 0 and comp.p_value == 1.0 and comp.ci_low == comp.ci_high == 0.0


def _clustered_identical(
    rng: np.random.Generator,
    clusters: int,
    size: int,
) -> tuple[list[float], list[float]]:
    """Two identical systems on ``clusters`` clusters of ``size`` items: each system has its
    own random effect per cluster (sd 0.75 on the logit), so a cluster's items move together."""
    logit = 0.85 + rng.normal(0, 1.0, clusters)
    labels = np.repeat(np.arange(clusters), size)

    def outcomes() -> list[float]:
        p = 1 / (1 + np.exp(-(logit + rng.normal(0, 0.75, clusters))[labels]))
        return [float(x) for x in rng.random(len(labels)) < p]

    return outcomes(), outcomes()


def test_cluster_sign_flip_false_fail_on_identical_systems_is_at_most_alpha() -> None:
    from harness.stats import paired_mean_clustered

    rng = np.random.default_rng(12)
    trials, fails = 400, 0
    for t in range(trials):
        base, cand = _clustered_identical(rng, 40, 3)
        labels = [i // 3 for i in range(len(base))]
        comp = paired_mean_clustered(base, cand, labels, 0.10, resamples=200, seed=t)
        fails += comp.delta < 0 and comp.p_lower < 0.05  # the gate's one-sided drop test
    assert fails / trials <= 0.05


def test_cluster_sign_flip_exact_p_matches_enumeration() -> None:
    import itertools

    from harness.stats import paired_mean_clustered

    base = [1.0, 1.0, 0.0, 1.0, 0.5, 0.0, 1.0]
    cand = [0.0, 0.0, 0.0, 1.0, 0.0, 1.0, 0.0]
    labels = ["a", "a", "b", "b", "c", "d", "e"]
    totals = {"a": -2.0, "b": 0.0, "c": -0.5, "d": 1.0, "e": -1.0}
    observed = sum(totals.values())
    flips = [
        sum(s * t for s, t in zip(signs, totals.values(), strict=True))
        for signs in itertools.product((1, -1), repeat=5)
    ]
    comp = paired_mean_clustered(base, cand, labels, resamples=2000)
    assert comp.test == "cluster-sign-flip-exact" and comp.resamples is None
    assert comp.p_lower == pytest.approx(sum(f <= observed for f in flips) / 32)
    assert comp.p_higher == pytest.approx(sum(f >= observed for f in flips) / 32)
    assert comp.clusters == 5 and comp.delta == pytest.approx(observed / 7)


def test_cluster_sign_flip_interval_agrees_with_its_test() -> None:
    from harness.stats import non_inferiority_p, paired_mean_clustered

    rng = np.random.default_rng(3)
    labels = [i // 4 for i in range(400)]
    base = [float(x) for x in rng.random(400) < 0.7]
    for drop in (0.0, 0.04, 0.08, 0.15):
        cand = [float(x) for x in rng.random(400) < 0.7 - drop]
        comp = paired_mean_clustered(base, cand, labels, 0.10, resamples=999, seed=1)
        assert comp.ci_low <= comp.delta <= comp.ci_high
        assert (comp.ci_high < 0) == (comp.p_lower < 0.05)
        assert (comp.ci_low > 0) == (comp.p_higher < 0.05)
        # non-inferiority within m is rejected-null exactly when the interval clears -m
        for margin in (0.02, 0.05, 0.1):
            assert (non_inferiority_p(comp, margin) < 0.05) == (comp.ci_low > -margin)
        assert comp.se > 0 and comp.resamples == 999
