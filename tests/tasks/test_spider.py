"""The spider task on the real dev set: prompts, and the scorer on gold and wrong answers."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness import DataError, DataOptions, Output, get_task, load_dataset


def test_loads_dev_with_schema_prompts(data_dir: Path) -> None:
    task = get_task("spider")
    ds = load_dataset(task, DataOptions(data_dir=data_dir, limit=5))
    assert ds.info.n_total == 1034 and set(ds.info.files) == {"dev.json", "tables.json"}
    s = ds.samples[0]
    assert s.target == "SELECT count(*) FROM singer" and s.metadata == {"db_id": "concert_singer"}
    assert "CREATE TABLE singer (" in s.prompt.text and "How many singers" in s.prompt.text
    assert s.prompt.messages[0].role == "system"


def test_scorer_on_gold_and_wrong_predictions(data_dir: Path) -> None:
    task = get_task("spider", seeds=2)
    ds = load_dataset(task, DataOptions(data_dir=data_dir, limit=40))
    scorer = task.scorers[0]
    gold = scorer.score_all(
        ds.samples, [Output(texts=[f"```sql\n{s.target};\n```"]) for s in ds.samples]
    )
    agg = scorer.aggregate(gold, ds.samples)
    assert agg["exact_match"].value == 1.0 and agg["valid_sql"].value == 1.0
    assert agg["execution_match"].value == 1.0
    wrong = scorer.score_all(
        ds.samples, [Output(texts=["SELECT 1 FROM nowhere"]) for _ in ds.samples]
    )
    assert all(
        w.values == {"exact_match": 0.0, "valid_sql": 0.0, "execution_match": 0.0} for w in wrong
    )


def test_unknown_split(data_dir: Path) -> None:
    with pytest.raises(DataError, match="only the dev split"):
        load_dataset(get_task("spider"), DataOptions(data_dir=data_dir, split="train"))
