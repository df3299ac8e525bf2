"""ViGGO task: data loading, the prompt's vocabulary, MR parsing and every metric."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from harness import DataOptions, Output, Sample, get_task, load_dataset
from harness._errors import DataError
from tasks.viggo import (
    ATTRIBUTES,
    FUNCTIONS,
    MRScorer,
    derive_vocabulary,
    format_example,
    order_correct,
    parse_mr,
    read_split,
    viggo_prompt,
)

REF = "give_opinion(name[SpellForce 3], rating[poor], genres[real-time strategy, role-playing])"


def _score(pred: str, target: str = REF):
    sample = Sample(id="x", prompt=viggo_prompt("s"), target=target)
    return MRScorer()(sample, Output(texts=[pred]))


def test_prompt_vocabulary_matches_the_train_split(data_dir: Path) -> None:
    rows, info = read_split(DataOptions(data_dir=data_dir), "train")
    functions, attributes = derive_vocabulary(r["mr"] for r in rows)
    assert tuple(functions) == FUNCTIONS
    assert tuple(attributes) == ATTRIBUTES
    assert info.n_total == 5103 and len(info.files["train.csv"]) == 64


def test_load_test_split_gives_prompts_and_targets(data_dir: Path) -> None:
    ds = load_dataset(get_task("viggo"), DataOptions(data_dir=data_dir, limit=5))
    assert len(ds.samples) == 5 and ds.info.split == "test" and ds.info.n_total == 1083
    s = ds.samples[0]
    assert [m.role for m in s.prompt.messages] == ["system", "user"]
    assert "request_attribute" in s.prompt.messages[0].content
    assert parse_mr(s.target).function in FUNCTIONS


def test_format_example_uses_the_eval_prompt(data_dir: Path) -> None:
    ds = load_dataset(get_task("viggo"), DataOptions(data_dir=data_dir, split="train", limit=1))
    rows, _ = read_split(DataOptions(data_dir=data_dir), "train")
    ex = format_example(rows[0])
    assert ex["prompt"] == ds.samples[0].prompt
    assert ex["completion"] == ds.samples[0].target


def test_unknown_split_and_missing_data_are_user_errors(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="no split 'dev'"):
        read_split(DataOptions(data_dir=tmp_path), "dev")
    with pytest.raises(DataError, match=r"lacks test\.csv"):
        read_split(DataOptions(data_dir=tmp_path), "test")


def test_parse_mr_handles_lists_parentheses_and_chatter() -> None:
    mr = parse_mr(
        "Sure! inform(name[Dirt], esrb[E 10+ (for Everyone 10 and Older)], genres[a, b])\nmore"
    )
    assert mr.function == "inform"
    assert mr.slots == (
        ("name", "Dirt"),
        ("esrb", "E 10+ (for Everyone 10 and Older)"),
        ("genres", "a, b"),
    )
    assert sum(mr.pairs().values()) == 4
    assert parse_mr("no structure here").function == ""
    assert parse_mr("request_attribute(player_perspective[])").pairs() == {
        ("player_perspective", ""): 1
    }


def test_exact_match_scores_one_on_everything() -> None:
    s = _score("  " + REF.replace(", ", ",  ") + "\n")
    assert s.values == {
        "exact_match": 1.0,
        "function_accuracy": 1.0,
        "slot_f1_sample": 1.0,
        "attribute_order": 1.0,
    }


def test_partial_answer_scores_slots_and_order() -> None:
    pred = (
        "give_opinion(rating[poor], name[SpellForce 3], genres[real-time strategy], developer[X])"
    )
    s = _score(pred)
    # 3 correct pairs of 4 predicted; 3 of 4 reference pairs found.
    assert s.metadata == {"tp": 3, "n_pred": 4, "n_ref": 4}
    assert s.values["exact_match"] == 0.0 and s.values["function_accuracy"] == 1.0
    assert s.values["slot_f1_sample"] == pytest.approx(0.75)
    assert s.values["attribute_order"] == 0.0  # rating before name


def test_wrong_function_and_garbage() -> None:
    assert _score("inform(name[SpellForce 3])").values["function_accuracy"] == 0.0
    g = _score("I do not know.")
    assert g.values["slot_f1_sample"] == 0.0 and g.values["attribute_order"] is None


def test_order_needs_two_shared_attributes() -> None:
    assert order_correct(parse_mr("f(a[1])"), parse_mr("f(a[1], b[2])")) is None
    assert order_correct(parse_mr("f(b[2], a[1])"), parse_mr("f(a[1], c[3], b[2])")) == 0.0
    assert order_correct(parse_mr("f(a[1], b[9])"), parse_mr("f(a[1], c[3], b[2])")) == 1.0


def test_corpus_f1_is_micro_averaged_with_bootstrap_ci() -> None:
    preds = [REF, "give_opinion(name[SpellForce 3])", "nothing"]
    samples = [Sample(id=str(i), prompt=viggo_prompt("s"), target=REF) for i in range(3)]
    scorer = MRScorer()
    scores = [scorer(s, Output(texts=[p])) for s, p in zip(samples, preds, strict=True)]
    metrics = scorer.aggregate(scores, samples)
    # micro: tp = 4 + 1 + 0, predicted = 4 + 1 + 0, reference = 12
    assert metrics["slot_precision"].value == pytest.approx(1.0)
    assert metrics["slot_recall"].value == pytest.approx(5 / 12)
    assert metrics["slot_f1"].value == pytest.approx(2 * (5 / 12) / (1 + 5 / 12))
    assert (
        metrics["slot_f1"].method == "bootstrap"
        and metrics["slot_f1"].ci_low <= metrics["slot_f1"].value
    )
    assert (
        metrics["exact_match"].value == pytest.approx(1 / 3)
        and metrics["exact_match"].method == "wilson"
    )
    assert math.isclose(metrics["slot_f1_sample"].value, (1 + 2 * 0.25 / 1.25 + 0) / 3)
