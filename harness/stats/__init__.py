"""Paired and unpaired comparisons of two systems evaluated on the same (or other) items.

A release gate must not fail a candidate that is as good as its baseline just because the
items are noisy. When base and candidate answered the *same* items, the per-item differences
carry far less noise than two independent means, so this package compares them item by item:

* binary metrics (0/1 per item): McNemar's exact test on the discordant pairs (items one system
  got right and the other wrong), with an Agresti-Min adjusted interval for the difference;
* continuous metrics: a paired percentile bootstrap of the mean difference;
* runs on different items: an unpaired difference of means (normal approximation), labelled so;
* corpus metrics (corpus BLEU, micro/macro F1, ROC-AUC): a paired bootstrap over items that
  recomputes the corpus metric of both systems on the same resample (`paired_statistic`);
* clustered items (several items share one source, e.g. one meaning representation phrased
  three ways): a mean difference is tested by randomly flipping the sign of whole clusters'
  differences (`paired_mean_clustered`), corpus metrics by resampling whole clusters, so
  dependent items count once;
* non-inferiority (one side of a TOST): is the candidate shown to be no worse than
  ``-margin``?
* power: the minimal detectable effect of a comparison at its n and alpha
  (`minimal_detectable_effect`) and the n needed to detect a given effect (`required_n`).

It is also the one home of the intervals and the bootstrap that metrics use (`wilson_interval`,
`bootstrap`, `percentile_interval`); `harness.mean_metric` and `harness.bootstrap_metric` wrap
them into metric values.

Only the standard library and numpy are used, so the numbers can be checked against scipy in
the tests without scipy being needed here. numpy is imported where it is used, so that
`import harness` (and ``harness --help``) does not load it.
"""

from __future__ import annotations

from harness.stats._clustered import (
    flip_shifts,
    paired_mean_clustered,
    shift_p,
    sign_flips,
)
from harness.stats._comparison import (
    Comparison,
    Kind,
    canonical,
    check_paired,
    is_binary,
)
from harness.stats._dist import (
    Z95,
    binom_cdf,
    binom_cdf_half,
    clopper_pearson,
    mcnemar_exact,
    normal_cdf,
    normal_ppf,
    scaled_wilson,
    wilson_interval,
)
from harness.stats._paired import (
    compare,
    from_draws,
    non_inferiority_p,
    paired_binary,
    paired_bootstrap,
    paired_statistic,
    unpaired,
)
from harness.stats._pairing import (
    CLUSTER_KEY,
    Pairing,
    pair_samples,
)
from harness.stats._reporting import (
    DETECTABLE_ALPHA,
    answer_profile,
    detectable_name,
    format_p,
    minimal_detectable_effect,
    required_n,
)
from harness.stats._resample import (
    bootstrap,
    bootstrap_mean_diffs,
    bootstrap_statistic,
    cluster_members,
    percentile_interval,
    resample_indices,
)

__all__ = [
    "CLUSTER_KEY",
    "DETECTABLE_ALPHA",
    "Z95",
    "Comparison",
    "Kind",
    "Pairing",
    "answer_profile",
    "binom_cdf",
    "binom_cdf_half",
    "bootstrap",
    "bootstrap_mean_diffs",
    "bootstrap_statistic",
    "canonical",
    "check_paired",
    "clopper_pearson",
    "cluster_members",
    "compare",
    "detectable_name",
    "flip_shifts",
    "format_p",
    "from_draws",
    "is_binary",
    "mcnemar_exact",
    "minimal_detectable_effect",
    "non_inferiority_p",
    "normal_cdf",
    "normal_ppf",
    "pair_samples",
    "paired_binary",
    "paired_bootstrap",
    "paired_mean_clustered",
    "paired_statistic",
    "percentile_interval",
    "required_n",
    "resample_indices",
    "scaled_wilson",
    "shift_p",
    "sign_flips",
    "unpaired",
    "wilson_interval",
]
