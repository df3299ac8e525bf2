"""The gsm8k task on the real data: loading, few-shot determinism, errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness import DataError, DataOptions, get_task, load_dataset
from tasks.gsm8k import target_of


def test_loads_real_test_split(data_dir: Path) -> None:
    ds = load_dataset(get_task("gsm8k"), DataOptions(data_dir=data_dir, limit=3))
    assert len(ds.samples) == 3
    assert ds.info.n_total == 1319
    assert set(ds.info.files) == {"test.jsonl", "train.jsonl"}
    assert ds.samples[0].target == "18"
    text = ds.samples[0].prompt.text
    assert text.count("Question:") == 6 and text.endswith("Answer:")
    assert len(ds.samples[0].prompt.messages) == 11  # 5 user/assistant pairs + the question


def test_fewshot_deterministic_per_seed(data_dir: Path) -> None:
    task = get_task("gsm8k", num_fewshot=3)
    a = load_dataset(task, DataOptions(data_dir=data_dir, limit=1, seed=1)).samples[0].prompt.text
    b = load_dataset(task, DataOptions(data_dir=data_dir, limit=1, seed=1)).samples[0].prompt.text
    c = load_dataset(task, DataOptions(data_dir=data_dir, limit=1, seed=2)).samples[0].prompt.text
    assert a == b
    assert a != c


def test_zero_shot(data_dir: Path) -> None:
    ds = load_dataset(get_task("gsm8k", num_fewshot=0), DataOptions(data_dir=data_dir, limit=1))
    assert ds.samples[0].prompt.text.startswith("Question: Janet")
    assert "train.jsonl" not in ds.info.files


def test_target_of_needs_marker() -> None:
    assert target_of("so 1,000\n#### 1,000") == "1000"
    with pytest.raises(DataError, match="no '#### <number>' line"):
        target_of("no marker")


def test_malformed_row_names_file_and_line(tmp_path: Path) -> None:
    (tmp_path / "gsm8k").mkdir()
    (tmp_path / "gsm8k" / "test.jsonl").write_text('{"question": "a", "answer": "#### 1"}\n{oops\n')
    with pytest.raises(DataError, match=r"test\.jsonl:2: not valid JSON"):
        load_dataset(get_task("gsm8k", num_fewshot=0), DataOptions(data_dir=tmp_path))


def test_missing_data_dir_says_what_to_do(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="--data-dir"):
        load_dataset(get_task("gsm8k"), DataOptions(data_dir=tmp_path / "nope"))
