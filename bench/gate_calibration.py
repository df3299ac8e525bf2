"""How often the release gate fails identical systems, and how often it catches a real drop.

Simulates base and candidate answering the same n items. Each item has a success probability
p_i shared by both systems (item difficulty); outcomes are independent draws given p_i, so the
correlation model decides how many items disagree between two identical systems:

* ``shared``: p_i ~ Beta(0.35, 0.15) (mean 0.7): many items always right or always wrong,
  ~14% of items disagree (sampled decoding of closely related models);
* ``loose``: p_i ~ Beta(1.4, 0.6): ~28% disagree;
* ``independent``: p_i = 0.7 for every item: ~42% disagree (the worst case for pairing).

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
  outcomes within a cluster move together. The cluster bootstrap is compared with McNemar's
  test, which treats the 3 items as independent.

    python bench/gate_calibration.py [--trials 1000] [--boot-trials 200]
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

import numpy as np

from harness.gate import check_min, check_regression
from harness.stats import compare, paired_statistic

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


def clustered_rates(n: int, drop: float, trials: int, seed: int) -> tuple[float, float]:
    """(cluster-bootstrap gate fail rate, McNemar gate fail rate) on clusters of 3 items."""
    rng = np.random.default_rng(seed)
    clusters = np.repeat(np.arange(n // 3 + 1), 3)[:n]
    gate = naive = 0
    for t in range(trials):
        logit = np.log(0.7 / 0.3) + rng.normal(0, 1.0, clusters.max() + 1)

        base = _outcomes(rng, logit, clusters, 1.0)
        cand = _outcomes(rng, logit, clusters, (0.7 - drop) / 0.7)
        comp = compare(
            base, cand, paired=True, alpha=0.10, resamples=1000, seed=t, clusters=clusters.tolist()
        )
        gate += check_regression(comp, 0.05, max_regression=0.0).status == "fail"
        plain = compare(base, cand, paired=True, alpha=0.10)
        naive += check_regression(plain, 0.05, max_regression=0.0).status == "fail"
    return gate / trials, naive / trials


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--trials", type=int, default=1000)
    ap.add_argument("--boot-trials", type=int, default=200, help="trials of the bootstrap designs")
    args = ap.parse_args()
    t0 = time.perf_counter()
    print(
        f"{'model':<12} {'n':>5}  {'identical: gate':>15} {'naive':>6}  "
        f"{'5-pt drop: gate':>15} {'naive':>6}"
    )
    for model in MODELS:
        for n in (200, 500, 1000):
            ff, nf = rates(model, n, 0.0, args.trials, seed=1)
            pw, npw = rates(model, n, 0.05, args.trials, seed=2)
            print(f"{model:<12} {n:>5}  {ff:>15.3f} {nf:>6.3f}  {pw:>15.3f} {npw:>6.3f}")
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
    print(f"clustered (clusters of 3), n=500, {bt} trials each: cluster bootstrap / McNemar")
    ff, nf = clustered_rates(500, 0.0, bt, 6)
    pw, npw = clustered_rates(500, 0.05, bt, 7)
    print(f"  identical: fail rate {ff:.3f} / {nf:.3f}; 5-pt drop: fail rate {pw:.3f} / {npw:.3f}")
    elapsed = time.perf_counter() - t0
    checks = args.trials * 9 * 2 * 2 + len(status) + 6 * bt
    print(
        f"{checks} simulated gate checks in {elapsed:.1f} s ({1e3 * elapsed / checks:.2f} ms each)"
    )


if __name__ == "__main__":
    main()
