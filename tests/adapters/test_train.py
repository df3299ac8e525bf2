"""The trainer on the bundled model: loss masking, template identity, training, resume, manifest.

The slow tests share one short training run (module fixture): 2 steps, "interrupted" (no save),
then resumed to 4 steps. On a quiet 2-core CPU the whole module takes about a minute.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from adapters.data import Example, encode, file_examples, render
from adapters.manifest import read_manifest
from adapters.recipe import Recipe, load_recipe
from adapters.train import TrainRequest, fit, pick_device, setup, train
from harness import DataOptions, GenerationParams, get_task, load_dataset
from harness._errors import DataError, ModelError
from harness.drift import DriftRecord
from harness.lora import find_adapter

TINY = [
    "max_train_items=12",
    "batch_size=4",
    "lr=3e-3",
    "validation.max_items=4",
    "validation.every_steps=2",
    "logging_steps=1",
    "lora.r=8",
]


@pytest.fixture(scope="module")
def tokenizer(bundled_model: Any) -> Any:
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(bundled_model.path)


def test_file_examples_read_alpaca_and_chat(tmp_path: Path) -> None:
    f = tmp_path / "d.jsonl"
    f.write_text(
        json.dumps({"instruction": "Add", "input": "1 2", "output": "3"})
        + "\n"
        + json.dumps(
            {
                "messages": [
                    {"role": "user", "content": "hi"},
                    {"role": "assistant", "content": "hello"},
                ]
            }
        )
        + "\n"
    )
    examples, source = file_examples(f)
    assert [(e.messages[-1]["content"], e.completion) for e in examples] == [
        ("Add\n\n1 2", "3"),
        ("hi", "hello"),
    ]
    assert source.kind == "file" and len(source.files["d.jsonl"]) == 64
    f.write_text(json.dumps({"text": "x"}) + "\n")
    with pytest.raises(DataError, match=r"d.jsonl:1: row has neither"):
        file_examples(f)


@pytest.mark.slow
@pytest.mark.parametrize("template", ["chat", "plain", "llama2"])
def test_completion_mask_is_zero_exactly_on_the_prompt(tokenizer: Any, template: str) -> None:
    ex = Example(
        [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Name a game."}],
        "inform(name[Doom])",
    )
    row = encode(tokenizer, ex, template, max_length=512)
    assert row is not None
    prompt, _completion = render(tokenizer, ex, template)
    n_prompt = len(tokenizer(prompt, add_special_tokens=template == "plain")["input_ids"])
    assert row["completion_mask"] == [0] * n_prompt + [1] * (len(row["input_ids"]) - n_prompt)
    assert tokenizer.decode(row["input_ids"][n_prompt:]).strip().startswith("inform(name[Doom])")
    assert encode(tokenizer, ex, template, max_length=n_prompt) is None  # no completion left


@pytest.mark.slow
def test_training_prompt_is_the_eval_prompt(tokenizer: Any, data_dir: Path) -> None:
    """The masked prefix is token for token what the HF backend sends for the same sample."""
    sample = load_dataset(
        get_task("viggo"), DataOptions(data_dir=data_dir, split="train", limit=1)
    ).samples[0]
    ex = Example(
        [{"role": m.role, "content": m.content} for m in sample.prompt.messages],
        sample.target,
        sample.prompt.text,
    )
    for template, use_chat in (("chat", True), ("plain", False)):
        row = encode(tokenizer, ex, template, max_length=1024)
        assert row is not None
        n_prompt = row["completion_mask"].index(1)
        msgs = [{"role": m.role, "content": m.content} for m in sample.prompt.messages]
        rendered = (
            tokenizer.apply_chat_template(msgs, tokenize=False, add_generation_prompt=True)
            if use_chat
            else sample.prompt.text
        )
        assert (
            row["input_ids"][:n_prompt]
            == tokenizer(rendered, add_special_tokens=not use_chat)["input_ids"]
        )


@pytest.fixture(scope="module")
def trained(
    tmp_path_factory: pytest.TempPathFactory, bundled_model: Any
) -> Iterator[dict[str, Any]]:
    """Trains 2 steps and stops without saving (an interruption), then resumes to 4 steps."""
    home = tmp_path_factory.mktemp("home")
    mp = pytest.MonkeyPatch()
    mp.setenv("HARNESS_HOME", str(home))
    out = tmp_path_factory.mktemp("adapters") / "viggo-tiny"
    first = TrainRequest(out=out, recipe=load_recipe("cpu", [*TINY, "max_steps=2"]), task="viggo")
    session = setup(first)
    fit(session)  # checkpoint-2 written; no save: as if the process had been killed here
    labels = session.trainer.train_dataset["labels"]
    ids = session.trainer.train_dataset["input_ids"]
    rows = session.train_rows
    del session
    second = TrainRequest(
        out=out,
        recipe=load_recipe("cpu", [*TINY, "max_steps=4"]),
        task="viggo",
        recipe_source="cpu (test)",
    )
    train(second)
    yield {"out": out, "labels": labels, "ids": ids, "rows": rows, "home": home}
    mp.undo()


@pytest.mark.slow
def test_trainer_labels_mask_exactly_the_prompt(trained: dict[str, Any]) -> None:
    by_ids = {tuple(r["input_ids"]): r["completion_mask"] for r in trained["rows"]}
    for ids, labels in zip(trained["ids"], trained["labels"], strict=True):
        mask = by_ids[tuple(ids)]
        assert [lab == -100 for lab in labels] == [m == 0 for m in mask]
        assert all(lab == i for lab, i, m in zip(labels, ids, mask, strict=True) if m)


@pytest.mark.slow
def test_resume_and_manifest_fields(trained: dict[str, Any], bundled_model: Any) -> None:
    out: Path = trained["out"]
    assert {
        "adapter_config.json",
        "adapter_model.safetensors",
        "adapter_manifest.json",
        "loss_curve.png",
    } <= {p.name for p in out.iterdir()}
    assert not (out / "checkpoints").exists()  # cleaned up after a successful save
    m = read_manifest(out)
    assert m.resumed_from == "checkpoint-2" and m.steps == 4
    assert m.base_model.id == "smollm2-135m" and m.base_model.weight_sha256 == bundled_model.sha256
    assert m.data.name == "viggo" and set(m.data.files) == {"train.csv", "valid.csv"}
    assert m.data.train_examples == 12 and m.data.eval_examples == 4
    assert m.recipe["lora"]["r"] == 8 and m.recipe_source == "cpu (test)" and m.template == "chat"
    assert [p.step for p in m.loss_history if p.train_loss is not None] == [1, 2, 3, 4]
    assert [p.step for p in m.loss_history if p.eval_loss is not None] == [2, 4]
    assert m.best_checkpoint in {"checkpoint-2", "checkpoint-4"}
    assert m.best_eval_loss == min(p.eval_loss for p in m.loss_history if p.eval_loss is not None)
    assert (
        m.tokens_seen > 0
        and m.wall_time_s > 0
        and (m.device, m.dtype) == pick_device(Recipe.model_validate(m.recipe))
    )
    assert (out / "loss_curve.png").read_bytes()[:4] == b"\x89PNG"
    assert json.loads((out / "adapter_config.json").read_text())["r"] == 8
    drift = DriftRecord.model_validate(m.drift)  # validation prompts vs training prompts
    assert (drift.a.source, drift.a.n, drift.b.source, drift.b.n) == ("train", 12, "validation", 4)
    names = {st.name for st in drift.stats}
    assert {"length_ks", "token_chi2"} <= names
    assert all(0.0 <= st.p_value <= 1.0 for st in drift.stats)


@pytest.mark.slow
def test_registered_adapter_changes_greedy_outputs(trained: dict[str, Any], data_dir: Path) -> None:
    from harness import load_adapter
    from harness.backends.hf import HFBackend

    assert find_adapter("viggo-tiny") == trained["out"].resolve()
    with pytest.raises(ModelError, match="did you mean viggo-tiny"):
        find_adapter("viggo-tny")
    samples = load_dataset(get_task("viggo"), DataOptions(data_dir=data_dir, limit=2)).samples
    spec = load_adapter("viggo-tiny")
    params = GenerationParams(max_new_tokens=24)
    with HFBackend(batch_size=2) as backend:
        backend.prepare([spec])
        prompts = [backend.render(s.prompt) for s in samples]
        base = dict(backend.generate(prompts, params))
        tuned = dict(backend.generate(prompts, params, adapter=spec))
    assert [base[i].text for i in range(2)] != [tuned[i].text for i in range(2)]
