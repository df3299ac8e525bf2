"""How often the release gate fails identical systems, and how often it catches a real drop.

Simulates base and candidate answering the same n items. Each item has a success probability
p_i shared by both systems (item difficulty); outcomes are independent draws given p_i, so the
correlation model decides how many items disagree between two identical systems:

* ``shared``: p_i ~ Beta(0.35, 0.15) (mean 0.7): many items always right or always wrong,
  ~14% of items disagree (sampled decoding of closely related models). This is the realistic
  paired design (an adapter against its base) and the one the target "power >= 0.8 for a
  5-point drop at n=500" is set for;
* ``loose``: p_i ~ Beta(1.4, 0.6): ~28% disagree (stress design);
* ``independent``: p_i = 0.7 for every item: ~42% disagree (the worst case for pairing;
  stress design).

The stress designs check the false-fail rate where pairing helps least; they cannot reach 0.8
power at n=500 with any test, and the table shows why: ``ceiling`` is the normal-approximation
power of a one-sided level-0.05 test on the paired differences, Phi(0.05 sqrt(n / v) - 1.645)
with v the variance of one item's difference under the drop, which no test beats by much.

A "drop" scales every candidate p_i so its mean accuracy is 5 points lower. The gate check is
`check_regression` with max_regression 0 at alpha 0.05 (one-sided exact McNemar); for contrast,
a naive rule "fail when the candidate scores more than 2 points below the baseline" is shown.
Then the absolute-minimum check (exact binomial) on a candidate whose true accuracy equals
the minimum: it may fail at most alpha of those runs.

Two more designs, each with its own (smaller, bootstrap-bound) number of trials:

* a **corpus metric**: per-item token counts (1 + Poisson(5) tokens, each right with the item's
  p_i), scored as corpus precision sum(right) / sum(tokens) like micro-F1 or corpus BLEU, and
  compared by the paired bootstrap that recomputes it on each resample (`paired_statistic`);
* a **clustered task**: items come in clusters of 3 (one ViGGO meaning representation phrased
  three ways); each system has its own random effect per cluster (sd 0.75 on the logit), so
  outcomes within a cluster move together. The gate's cluster sign-flip randomisation test
  (`harness.stats.paired_mean_clustered`, ``--trials`` trials) is compared with McNemar's test,
  which treats the 3 items as independent, and with the percentile cluster bootstrap it
  replaced (anti-conservative with few clusters; ``--boot-trials`` trials), at 167 clusters
  (n=500) and at 20 clusters (n=60).

    PYTHONPATH=. python bench/gate_calibration.py [--trials 1000] [--boot-trials 200]
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

import numpy as np

from harness.gate import check_min, check_regression
from harness.stats import compare, normal_cdf, paired_statistic

MODELS = {
    "shared": lambda rng, n: rng.beta(0.35, 0.15, n),
    "loose": lambda rng, n: rng.beta(1.4, 0.6, n),
    "independent": lambda rng, n: np.full(n, 0.7),
}


def rates(model: str, n: int, drop: float, trials: int, seed: int) -> tuple[float, float]:
    """(gate fail rate, naive-rule fail rate) over ``trials`` simulated comparisons."""
    rng = np.random.default_rng(seed)
    gate = naive = 0
    for _ in range(trials):
        p = MODELS[model](rng, n)
        base = (rng.random(n) < p).astype(float)
        cand = (rng.random(n) < p * (0.7 - drop) / 0.7).astype(float)
        comp = compare(base.tolist(), cand.tolist(), paired=True, alpha=0.10)
        gate += check_regression(comp, 0.05, max_regression=0.0).status == "fail"
        naive += cand.mean() < base.mean() - 0.02
    return gate / trials, naive / trials


def ceiling(model: str, n: int, drop: float, seed: int = 0) -> float:
    """Normal-approximation power of a one-sided level-0.05 test of the paired differences."""
    p = MODELS[model](np.random.default_rng(seed), 200_000)
    q = p * (0.7 - drop) / 0.7
    var = p * (1 - p) + q * (1 - q) + (p - q).var()  # Var(cand - base) of one item
    return normal_cdf(drop * np.sqrt(n / var.mean()) - 1.6448536269514722)


def _precision(right: np.ndarray, tokens: np.ndarray) -> Callable[[np.ndarray], float]:
    return lambda idx: float(right[idx].sum() / tokens[idx].sum())


def _outcomes(
    rng: np.random.Generator, logit: np.ndarray, clusters: np.ndarray, shift: float
) -> list[float]:
    u = rng.normal(0, 0.75, len(logit))  # this system's own effect on each cluster
    p = 1 / (1 + np.exp(-(logit + u)[clusters]))
    return (rng.random(len(clusters)) < p * shift).astype(float).tolist()


def corpus_rates(n: int, drop: float, trials: int, seed: int) -> float:
    """Gate fail rate on corpus precision (paired corpus bootstrap, max_regression 0)."""
    rng = np.random.default_rng(seed)
    fails = 0
    for t in range(trials):
        p = MODELS["loose"](rng, n)
        tokens = 1 + rng.poisson(5, n)
        base = rng.binomial(tokens, p)
        cand = rng.binomial(tokens, p * (0.7 - drop) / 0.7)

        comp = paired_statistic(
            _precision(base, tokens), _precision(cand, tokens), n, 0.10, 1000, seed=t
        )
        fails += check_regression(comp, 0.05, max_regression=0.0).status == "fail"
    return fails / trials


def _clustered_pair(
    rng: np.random.Generator, clusters: np.ndarray, drop: float
) -> tuple[list[float], list[float]]:
    logit = np.log(0.7 / 0.3) + rng.normal(0, 1.0, clusters.max() + 1)
    return _outcomes(rng, logit, clusters, 1.0), _outcomes(rng, logit, clusters, (0.7 - drop) / 0.7)


def _labels(n: int) -> np.ndarray:
    return np.repeat(np.arange(n // 3 + 1), 3)[:n]


def clustered_rates(n: int, drop: float, trials: int, seed: int) -> tuple[float, float]:
    """(cluster sign-flip gate fail rate, McNemar gate fail rate) on clusters of 3 items."""
    rng = np.random.default_rng(seed)
    clusters = _labels(n)
    gate = naive = 0
    for t in range(trials):
        base, cand = _clustered_pair(rng, clusters, drop)
        comp = compare(
            base, cand, paired=True, alpha=0.10, resamples=1000, seed=t, clusters=clusters.tolist()
        )
        gate += check_regression(comp, 0.05, max_regression=0.0).status == "fail"
        plain = compare(base, cand, paired=True, alpha=0.10)
        naive += check_regression(plain, 0.05, max_regression=0.0).status == "fail"
    return gate / trials, naive / trials


def _mean_of(values: np.ndarray) -> Callable[[np.ndarray], float]:
    return lambda idx: float(values[idx].mean())


def cluster_bootstrap_rate(n: int, drop: float, trials: int, seed: int) -> float:
    """Fail rate of the percentile cluster bootstrap (B=1000) on the same clustered design."""
    rng = np.random.default_rng(seed)
    clusters = _labels(n)
    fails = 0
    for t in range(trials):
        b, c = (np.asarray(x) for x in _clustered_pair(rng, clusters, drop))
        comp = paired_statistic(
            _mean_of(b),
            _mean_of(c),
            n,
            0.10,
            1000,
            seed=t,
            clusters=clusters.tolist(),
        )
        fails += check_regression(comp, 0.05, max_regression=0.0).status == "fail"
    return fails / trials


def _print_clustered(trials: int, boot_trials: int) -> None:
    print(
        f"clustered (clusters of 3): sign-flip / McNemar ({trials} trials), "
        f"percentile cluster bootstrap ({boot_trials} trials)"
    )
    for n, seed in ((500, 6), (60, 16)):
        ff, nf = clustered_rates(n, 0.0, trials, seed)
        pw, npw = clustered_rates(n, 0.05, trials, seed + 1)
        bff = cluster_bootstrap_rate(n, 0.0, boot_trials, seed + 2)
        bpw = cluster_bootstrap_rate(n, 0.05, boot_trials, seed + 3)
        print(
            f"  n={n:<4} ({len(set(_labels(n)))} clusters) identical: fail rate "
            f"{ff:.3f} / {nf:.3f} / {bff:.3f}; 5-pt drop: fail rate "
            f"{pw:.3f} / {npw:.3f} / {bpw:.3f}"
        )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--trials", type=int, default=1000)
    ap.add_argument("--boot-trials", type=int, default=200, help="trials of the bootstrap designs")
    args = ap.parse_args()
    t0 = time.perf_counter()
    print(
        f"{'model':<26} {'n':>5}  {'identical: gate':>15} {'naive':>6}  "
        f"{'5-pt drop: gate':>15} {'naive':>6} {'ceiling':>7}"
    )
    for model in MODELS:
        role = "realistic, target" if model == "shared" else "stress"
        for n in (200, 500, 1000):
            ff, nf = rates(model, n, 0.0, args.trials, seed=1)
            pw, npw = rates(model, n, 0.05, args.trials, seed=2)
            print(
                f"{model + ' (' + role + ')':<26} {n:>5}  {ff:>15.3f} {nf:>6.3f}  "
                f"{pw:>15.3f} {npw:>6.3f} {ceiling(model, n, 0.05):>7.3f}"
            )
    # A 0/1 min check depends only on the count right, so each distinct count is checked once.
    rng = np.random.default_rng(3)
    counts = (rng.random((20 * args.trials, 500)) < 0.7).sum(axis=1)
    status = {
        int(k): check_min([1.0] * int(k) + [0.0] * (500 - int(k)), 0.7, 0.05).status
        for k in np.unique(counts)
    }
    fails = sum(status[int(k)] == "fail" for k in counts) / len(counts)
    print(f"min check at true accuracy == min (n=500, {len(counts)} runs): fail rate {fails:.3f}")
    bt = args.boot_trials
    print(f"corpus precision, n=500, {bt} trials each (paired corpus bootstrap, B=1000):")
    print(
        f"  identical: fail rate {corpus_rates(500, 0.0, bt, 4):.3f}; "
        f"5-pt drop: fail rate {corpus_rates(500, 0.05, bt, 5):.3f}"
    )
    _print_clustered(args.trials, bt)
    elapsed = time.perf_counter() - t0
    checks = args.trials * 9 * 2 * 2 + len(status) + 4 * bt + 8 * args.trials + 8 * bt
    print(
        f"{checks} simulated gate checks in {elapsed:.1f} s ({1e3 * elapsed / checks:.2f} ms each)"
    )


if __name__ == "__main__":
    from harness import settings_from_env, use_settings

    use_settings(settings_from_env())  # a bench script is an edge, like the command line
    main()
