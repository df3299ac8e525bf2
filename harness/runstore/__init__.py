"""The run store: reading, listing, pairing and comparing the run folders harness wrote.

One public package that the gate, reports, the viewer, rescoring, baselines and the command
line import to read stored runs: `load_run`/`load_runs` give `LoadedRun` values (record and
samples), `list_runs`/`find_run`/`diff_runs` browse a runs folder, `compare_metric` pairs two
runs item by item, and `build_scorer`/`to_sample`/`to_output` rebuild what a stored run was
scored with, so it can be scored again without the model.
"""

from harness.runstore._runs import (
    ItemDiff,
    RunDiff,
    RunEntry,
    RunFilter,
    diff_runs,
    find_run,
    list_runs,
    parse_since,
    shared_metric,
)
from harness.runstore._runset import (
    LOWER_IS_BETTER_WORDS,
    LoadedRun,
    RunComparison,
    cluster_interval,
    compare_metric,
    find_baseline,
    is_corpus,
    load_run,
    load_runs,
    lower_is_better,
    name_mismatch,
)
from harness.runstore._stored import (
    StoredRun,
    build_scorer,
    clusters_of,
    corpus_statistic,
    scorer_class,
    to_output,
    to_sample,
    to_score,
)

__all__ = [
    "LOWER_IS_BETTER_WORDS",
    "ItemDiff",
    "LoadedRun",
    "RunComparison",
    "RunDiff",
    "RunEntry",
    "RunFilter",
    "StoredRun",
    "build_scorer",
    "cluster_interval",
    "clusters_of",
    "compare_metric",
    "corpus_statistic",
    "diff_runs",
    "find_baseline",
    "find_run",
    "is_corpus",
    "list_runs",
    "load_run",
    "load_runs",
    "lower_is_better",
    "name_mismatch",
    "parse_since",
    "scorer_class",
    "shared_metric",
    "to_output",
    "to_sample",
    "to_score",
]
