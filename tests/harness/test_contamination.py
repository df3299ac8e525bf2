"""Contamination: both tests on planted items, training references, and the runner's marks."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from harness import DataOptions, RunContext, evaluate, get_task, load_dataset
from harness.backends import AdapterSpec
from harness.backends.fake import FakeBackend
from harness.contamination import (
    Settings,
    TrainingData,
    UncheckedError,
    check_items,
    file_reference,
    parse_training,
    training_docs,
)
from harness.record import read_samples

rng = random.Random(0)
VOCAB = ["".join(rng.choices("abcdefghij", k=6)) for _ in range(3000)]


def _text(n: int) -> str:
    return " ".join(rng.choices(VOCAB, k=n))


def test_exact_and_edited_copies_are_flagged_and_disjoint_items_are_not() -> None:
    items = [(f"t{i}", _text(40)) for i in range(50)]
    exact, edited = items[3][1], items[7][1].upper().replace(" ", ", ", 3)
    words = edited.split()
    words[20] = "zzz"  # one word replaced: 13-grams on either side survive
    docs = [("train:1", exact), ("train:2", " ".join(words)), ("train:3", _text(60))]
    docs += [(f"train:{k}", _text(50)) for k in range(4, 200)]
    check = check_items(items, docs)
    assert check.flagged == ["t3", "t7"] and check.n == 50
    by_id = {r.id: r for r in check.items}
    assert by_id["t3"].ngram and by_id["t3"].near_duplicate and by_id["t3"].jaccard == 1.0
    assert by_id["t3"].match == "train:1" and by_id["t3"].ngram_hits == by_id["t3"].ngrams == 28
    assert by_id["t7"].ngram and by_id["t7"].match == "train:2"
    assert 0 < by_id["t7"].ngram_hits < by_id["t7"].ngrams
    assert check.ngram_flagged == 2 and check.near_duplicate_flagged == 1  # edited: J < 0.8
    assert not any(r.contaminated for r in check.items if r.id not in {"t3", "t7"})


def test_near_duplicate_without_any_13_gram_and_n_is_configurable() -> None:
    base = _text(30).split()
    item = " ".join(base)
    # Every 12th word changed: no 13-gram survives, most 5-grams do.
    copy = " ".join("qq" if k % 12 == 11 else w for k, w in enumerate(base))
    check = check_items([("a", item)], [("d:1", copy)])
    assert not check.items[0].ngram
    check = check_items([("a", item)], [("d:1", copy)], Settings(ngram=8))
    assert check.items[0].ngram  # 8-grams survive between the edits
    almost = " ".join(base[:-1])  # one word dropped: J = 25/26 of the 5-grams
    check = check_items([("a", item)], [("d:1", almost)], Settings(ngram=50))
    assert check.items[0].near_duplicate and not check.items[0].ngram
    assert check.items[0].jaccard == pytest.approx(25 / 26, abs=1e-4)


def test_prompt_wording_shared_by_items_is_not_overlap_and_short_items_say_so() -> None:
    template = "Read the question below carefully and answer with a single number only please now:"
    items = [(f"t{i}", f"{template} {_text(8)}") for i in range(10)] + [("short", "two words")]
    docs = [("train:1", f"{template} {_text(8)}")]  # same instructions, another question
    check = check_items(items, docs)
    assert check.flagged == []
    assert check.untestable == 1 and {r.id: r.ngrams for r in check.items}["short"] == 0


def test_training_references_parse_and_refuse_changed_or_missing_data(tmp_path: Path) -> None:
    f = tmp_path / "train.jsonl"
    f.write_text(json.dumps({"question": "How many?", "answer": "Four", "n": 3}) + "\n")
    ref = parse_training(f"{f}:question")
    assert ref.files[0].fields == ["question"] and len(ref.fingerprint) == 64
    assert list(training_docs(ref)) == [("train.jsonl:1", "How many?")]
    assert [t for _, t in training_docs(parse_training(str(f)))] == ["How many?", "Four"]
    assert parse_training("gsm8k:train").tasks[0].task == "gsm8k"
    with pytest.raises(Exception, match=r"not found; pass FILE.jsonl\[:FIELD\]"):
        parse_training(str(tmp_path / "nope.jsonl"))
    f.write_text(json.dumps({"question": "Changed"}) + "\n")
    with pytest.raises(UncheckedError, match="changed since training"):
        list(training_docs(ref))
    f.unlink()
    with pytest.raises(UncheckedError, match="not found"):
        list(training_docs(ref))
    with pytest.raises(UncheckedError, match=r"has no adapter_manifest\.json"):
        parse_training(str(tmp_path))


SCRIPT = "default: '#### 1'\n"


def _adapter(tmp_path: Path, data: TrainingData | None) -> AdapterSpec:
    folder = tmp_path / "tuned"
    folder.mkdir()
    manifest = {"contamination": data.model_dump()} if data else {}
    (folder / "adapter_manifest.json").write_text(json.dumps(manifest))
    return AdapterSpec("tuned", folder, "ab" * 32)


def test_runner_marks_samples_and_reports_clean_metrics(
    tmp_path: Path, data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    task = get_task("gsm8k", num_fewshot=0)
    data = DataOptions(data_dir=data_dir, limit=8)
    samples = load_dataset(task, data).samples
    train = tmp_path / "train.jsonl"
    rows = [{"instruction": samples[k].prompt.messages[-1].content, "output": "x"} for k in (1, 4)]
    train.write_text("".join(json.dumps(r) + "\n" for r in rows))
    spec = _adapter(tmp_path, TrainingData(files=[file_reference(train)]).with_fingerprint())
    (tmp_path / "s.yaml").write_text(SCRIPT)
    backend = FakeBackend(model=str(tmp_path / "s.yaml"))
    ctx = RunContext(runs_dir=tmp_path / "runs")
    base, tuned = evaluate(task, backend, adapters=[spec], data=data, context=ctx)
    assert base.record.contamination is None and "strict_match@clean" not in base.record.metrics
    c = tuned.record.contamination
    assert c is not None and c.status == "checked" and c.flagged == ["test-1", "test-4"]
    assert tuned.folder is not None
    marks = {s.id: s.contaminated for s in read_samples(tuned.folder)}
    assert marks == {f"test-{k}": k in (1, 4) for k in range(8)}
    m = tuned.record.metrics
    assert m["strict_match"].n == 8 and m["strict_match@clean"].n == 6
    assert "2 of 8 gsm8k items are in the training data of adapter tuned" in capsys.readouterr().err
    train.unlink()  # the data is gone: unchecked, never clean
    _, again = evaluate(task, backend, adapters=[spec], data=data, context=ctx)
    c = again.record.contamination
    assert c is not None and c.status == "unchecked" and "not found" in (c.reason or "")
    assert "strict_match@clean" not in again.record.metrics
    assert all(s.contaminated is None for s in again.samples)
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("harness: contamination unchecked for adapter")
