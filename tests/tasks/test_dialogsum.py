"""The dialogsum task on the real test split: three references, metrics wired to the task."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness import DataError, DataOptions, Output, get_task, load_dataset


def test_loads_three_references(data_dir: Path) -> None:
    ds = load_dataset(get_task("dialogsum"), DataOptions(data_dir=data_dir, limit=3))
    assert ds.info.n_total == 500 and list(ds.info.files) == ["dialogsum.test.jsonl"]
    s = ds.samples[0]
    assert s.id == "test_0" and len(s.target) == 3 and all(s.target)
    assert s.prompt.text.startswith("Summarize") and "#Person1#: Ms. Dawson" in s.prompt.text
    dev = load_dataset(get_task("dialogsum"), DataOptions(data_dir=data_dir, split="dev", limit=1))
    assert len(dev.samples[0].target) == 1


def test_task_scorers_on_reference_outputs(data_dir: Path) -> None:
    task = get_task("dialogsum", bertscore=False)
    assert [s.name for s in task.scorers] == ["bleu", "chrf", "rouge"]
    ds = load_dataset(task, DataOptions(data_dir=data_dir, limit=20))
    perfect = [Output(texts=[s.target[0]]) for s in ds.samples]
    off = [Output(texts=["The weather is nice today."]) for _ in ds.samples]
    metrics = {}
    for name, outs in (("perfect", perfect), ("off", off)):
        for scorer in task.scorers:
            metrics.setdefault(name, {}).update(
                scorer.aggregate(scorer.score_all(ds.samples, outs), ds.samples)
            )
    assert metrics["perfect"]["bleu"].value == pytest.approx(100.0)
    assert metrics["perfect"]["rougeL"].value == pytest.approx(1.0)
    for k in ("bleu", "chrf", "rouge1", "rougeL"):
        assert metrics["off"][k].value < metrics["perfect"][k].value


def test_needs_local_data(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="dialogsum"):
        load_dataset(get_task("dialogsum"), DataOptions(data_dir=tmp_path))
