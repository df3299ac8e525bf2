"""``harness contamination TRAIN... --task T``: which test items are in this training data?

Exit codes: 0 no item overlaps; 1 some item overlaps; 2 usage error (a file that does not
exist, an unknown task); 3 the training data an adapter folder names cannot be read as it was
trained on (unchecked, never reported as clean).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click

EXIT_FLAGGED, EXIT_UNCHECKED = 1, 3


@click.command("contamination")
@click.argument("training", nargs=-1, required=True)
@click.option(
    "--task",
    "-t",
    "task_list",
    required=True,
    multiple=True,
    help="Task(s) whose items are checked: T or T1,T2 (repeatable).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the results as JSON.")
@click.option(
    "--ngram",
    type=click.IntRange(min=1),
    default=13,
    show_default=True,
    help="Words per n-gram of the overlap test.",
)
@click.option(
    "--threshold",
    type=click.FloatRange(0, 1, min_open=True),
    default=0.8,
    show_default=True,
    help="Jaccard of word 5-grams at which an item is a near-duplicate.",
)
@click.option("--split", default=None, help="Dataset split of the tasks (default: the task's).")
@click.option("--limit", "-n", type=int, default=None, help="Check only the first N items.")
@click.option(
    "--data-dir",
    type=click.Path(path_type=Path),
    default=None,
    help="Dataset folder (or $HARNESS_DATA_DIR).",
)
def contamination(
    training: tuple[str, ...],
    task_list: tuple[str, ...],
    as_json: bool,
    ngram: int,
    threshold: float,
    split: str | None,
    limit: int | None,
    data_dir: Path | None,
) -> None:
    """Check training data against every item of the tasks: 13-gram overlap (lowercased,
    punctuation stripped) and near-duplicates (MinHash LSH, Jaccard >= 0.8 on word 5-grams).

    TRAIN: FILE.jsonl[:FIELD[,FIELD]] (or .csv/.json; default every text of a row), TASK:SPLIT,
    or an adapter folder whose manifest names its training data.

    Exit codes: 0 no overlap; 1 some item overlaps; 2 usage error; 3 unchecked.

    Example: harness contamination train.jsonl:instruction --task gsm8k
    """
    from harness import DataOptions, get_task, load_dataset
    from harness.cli._common import offline_defaults
    from harness.contamination import Settings, TrainingData, parse_training

    offline_defaults()
    names = [t for item in task_list for t in item.split(",") if t]
    refs = [parse_training(spec, data_dir) for spec in training]  # bad input before any work
    data = TrainingData(
        files=[f for r in refs for f in r.files], tasks=[t for r in refs for t in r.tasks]
    ).with_fingerprint()
    options = DataOptions(data_dir=data_dir, split=split, limit=limit)
    datasets = {name: load_dataset(get_task(name), options) for name in names}
    settings = Settings(ngram=ngram, threshold=threshold)
    results = [_check(name, ds.samples, data, settings) for name, ds in datasets.items()]
    if as_json:
        click.echo(json.dumps({"training": data.model_dump(), "tasks": results}, indent=2))
    else:
        for res in results:
            _print(res)
    if any(r["status"] != "checked" for r in results):
        sys.exit(EXIT_UNCHECKED)
    sys.exit(EXIT_FLAGGED if any(r["flagged"] for r in results) else 0)


def _check(name: str, samples: list[Any], data: Any, settings: Any) -> dict[str, Any]:
    from harness.contamination import UncheckedError, check_items, training_docs
    from harness.contamination._run import item_text

    items = [(s.id, item_text(s)) for s in samples]
    try:
        check = check_items(items, training_docs(data), settings)
    except UncheckedError as e:
        return {"task": name, "status": "unchecked", "reason": str(e), "n": len(items)}
    out = check.model_dump(exclude={"items"})
    out["items"] = [r.model_dump() for r in check.items if r.contaminated]
    return {"task": name, "status": "checked", "training": data.describe(), **out}


def _print(res: dict[str, Any]) -> None:
    if res["status"] != "checked":
        click.echo(f"{res['task']}: unchecked: {res['reason']}")
        return
    s = res["settings"]
    click.echo(
        f"{res['task']}: {len(res['flagged'])} of {res['n']} items overlap {res['training']} "
        f"({res['ngram_flagged']} by {s['ngram']}-gram overlap, {res['near_duplicate_flagged']} "
        f"near-duplicates at Jaccard >= {s['threshold']:g}; {res['training_texts']} training "
        f"texts, {res['seconds']:.1f} s)"
    )
    for r in res["items"]:
        jac = "-" if r["jaccard"] is None else f"{r['jaccard']:.3f}"
        click.echo(
            f"  {r['id']}\tngrams {r['ngram_hits']}/{r['ngrams']}\tjaccard {jac}\t{r['match']}"
        )
