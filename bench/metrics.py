"""How fast the task-library metrics score real data (no model involved).

Prints items/s for: BLEU and chrF (corpus score + 1000-resample bootstrap), ROUGE and
BERTScore on DialogSum test (hypothesis: summary1; references: summary2/3); Spider execution
match (gold against itself, 3 synthetic databases each) over the dev set; and the
classification aggregate (macro P/R/F1 + ROC-AUC with bootstraps) on all 12,284 TweetEval test
labels with random probabilities.

    HARNESS_DATA_DIR=../shared/datasets python bench/metrics.py [--bertscore-items 100]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import time
from pathlib import Path
from typing import Any

from harness import Output, Sample, read_jsonl
from harness._types import Prompt


def _timed(label: str, n: int, fn: Any) -> Any:
    t0 = time.perf_counter()
    result = fn()
    dt = time.perf_counter() - t0
    print(f"{label:<42} {n:>6} items {dt:8.2f} s {n / dt:10.1f} items/s")
    return result


def bench_text(data: Path, bertscore_items: int) -> None:
    from harness.metrics.text import BertScore, Bleu, Chrf, Rouge

    rows = list(read_jsonl(data / "dialogsum" / "dialogsum.test.jsonl"))
    samples = [
        Sample(id=str(i), prompt=Prompt.plain("-"), target=[r["summary2"], r["summary3"]])
        for i, r in enumerate(rows)
    ]
    outputs = [Output(texts=[r["summary1"]]) for r in rows]
    for scorer in (Bleu(), Chrf(), Rouge()):

        def run(scorer: Any = scorer) -> Any:
            return scorer.aggregate(scorer.score_all(samples, outputs), samples)

        agg = _timed(f"dialogsum {scorer.name} (score + aggregate)", len(samples), run)
        print("   ", {k: round(v.value, 3) for k, v in agg.items()})
    k = bertscore_items
    bs = BertScore()
    scores = _timed(
        "dialogsum bertscore (MiniLM, CPU)", k, lambda: bs.score_all(samples[:k], outputs[:k])
    )
    print("   ", {"bertscore_f1": round(sum(s.values["bertscore_f1"] for s in scores) / k, 4)})


def bench_sql(data: Path) -> None:
    from harness.metrics.sql import execution_match

    dev = json.loads((data / "spider" / "dev.json").read_text())
    schemas = {s["db_id"]: s for s in json.loads((data / "spider" / "tables.json").read_text())}

    def run() -> int:
        return sum(execution_match(q["query"], q["query"], schemas[q["db_id"]])[0] for q in dev)

    matched = _timed("spider execution match (3 DBs each)", len(dev), run)
    print(f"    gold matches itself on {matched}/{len(dev)}")


def bench_classification() -> None:
    from harness.metrics.classification import Classification, softmax

    labels = ("negative", "neutral", "positive")
    rng = random.Random(0)
    n = 12284
    samples = [
        Sample(id=str(i), prompt=Prompt.plain("-"), target=rng.choice(labels)) for i in range(n)
    ]
    outputs = [Output(choice_logprobs=[rng.gauss(0, 1) for _ in labels]) for _ in range(n)]
    assert abs(sum(softmax(outputs[0].choice_logprobs or [])) - 1) < 1e-9
    scorer = Classification(labels)
    _timed(
        "classification aggregate (4 bootstraps)",
        n,
        lambda: scorer.aggregate(scorer.score_all(samples, outputs), samples),
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--bertscore-items", type=int, default=100)
    args = parser.parse_args()
    data = Path(os.environ.get("HARNESS_DATA_DIR", "../shared/datasets"))
    print(f"cpu count {os.cpu_count()}, load average {os.getloadavg()[0]:.1f}")
    bench_text(data, args.bertscore_items)
    bench_sql(data)
    bench_classification()


if __name__ == "__main__":
    from harness import settings_from_env, use_settings

    use_settings(settings_from_env())  # a bench script is an edge, like the command line
    main()
