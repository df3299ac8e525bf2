"""The validation split a recipe asks for is used, or missing is an error: no silent holdout."""

from __future__ import annotations

from pathlib import Path

import pytest

from adapters.recipe import load_recipe
from adapters.train import TrainRequest, _examples
from harness._errors import DataError


def _request(tmp_path: Path, data_dir: Path, task: str, *overrides: str) -> TrainRequest:
    recipe = load_recipe("cpu", ["max_train_items=20", "validation.max_items=4", *overrides])
    return TrainRequest(out=tmp_path / "a", recipe=recipe, task=task, data_dir=data_dir)


def test_the_recipes_split_is_used(tmp_path: Path, data_dir: Path) -> None:
    train, valid, source = _examples(_request(tmp_path, data_dir, "viggo"))
    assert (len(train), len(valid)) == (20, 4)
    assert set(source.files) == {"train.csv", "valid.csv"}


def test_a_missing_split_is_an_error_saying_what_to_do(tmp_path: Path, data_dir: Path) -> None:
    with pytest.raises(DataError) as err:
        _examples(_request(tmp_path, data_dir, "gsm8k"))  # gsm8k has train and test only
    msg = str(err.value)
    assert msg.startswith("validation split 'valid' of task 'gsm8k': ") and "lacks valid" in msg
    assert msg.endswith("or validation.split=null to hold out 5% of train")


def test_holding_out_from_train_is_asked_for_explicitly(tmp_path: Path, data_dir: Path) -> None:
    request = _request(tmp_path, data_dir, "gsm8k", "validation.split=null")
    train, valid, source = _examples(request)
    assert (len(train), len(valid)) == (19, 1)
    assert set(source.files) == {"train.jsonl"}


def test_the_manifests_drift_flags_a_validation_split_unlike_training() -> None:
    """`validation_drift` (the manifest's ``drift``): prompts drawn from one pool are not
    flagged by their lengths; validation prompts five times as long are."""
    import random

    from adapters.data import Example
    from adapters.manifest import validation_drift

    rng = random.Random(0)
    words = ["the", "order", "of", "three", "bolts", "takes", "two", "hours", "each", "day"]

    def prompt(low: int, high: int) -> Example:
        text = " ".join(rng.choice(words) for _ in range(rng.randint(low, high)))
        return Example([{"role": "user", "content": text}], "x")

    pool = [prompt(8, 16) for _ in range(80)]
    same = validation_drift(pool[:60], pool[60:])
    longer = validation_drift(pool[:60], [prompt(50, 70) for _ in range(20)])
    length = {
        name: next(s for s in d["stats"] if s["name"] == "length_ks")
        for name, d in (("same", same), ("longer", longer))
    }
    assert (same["a"]["source"], same["a"]["n"], same["b"]["n"]) == ("train", 60, 20)
    assert not length["same"]["significant"] and length["same"]["p_value"] > 0.05
    assert length["longer"]["significant"] and length["longer"]["p_value"] < 0.001
