"""`load_tokenizer`: the tokenizer AutoTokenizer gives, without AutoTokenizer's imports."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from harness._models import resolve_model
from harness.backends._vllm_common import PromptRenderer, load_tokenizer

TEXTS = ["What is 12+7?", "  leading spaces\nand a newline", "<|im_start|>user\nhi<|im_end|>", ""]
CHATS = [
    [{"role": "user", "content": "Name a color."}],
    [
        {"role": "system", "content": "Answer briefly."},
        {"role": "user", "content": "6 x 7?"},
        {"role": "assistant", "content": "42"},
        {"role": "user", "content": "And 5 + 5?"},
    ],
]


@pytest.fixture(scope="module")
def folder() -> Path:
    return resolve_model(None).path


def test_same_class_tokens_and_chat_text_as_autotokenizer(folder: Path) -> None:
    from transformers import AutoTokenizer

    auto, ours = AutoTokenizer.from_pretrained(str(folder)), load_tokenizer(folder)
    assert type(ours) is type(auto)
    for text in TEXTS:
        for special in (True, False):
            assert (
                ours(text, add_special_tokens=special)["input_ids"]
                == (auto(text, add_special_tokens=special)["input_ids"])
            )
    for chat in CHATS:
        kw = {"tokenize": False, "add_generation_prompt": True}
        assert ours.apply_chat_template(chat, **kw) == auto.apply_chat_template(chat, **kw)
    assert PromptRenderer(folder).chat_template is bool(auto.chat_template)


def test_it_imports_neither_torch_nor_the_model_registry(folder: Path) -> None:
    code = (
        "import sys; from harness.backends._vllm_common import load_tokenizer; "
        f"load_tokenizer({str(folder)!r}); "
        "print(sorted(m for m in ('torch', 'transformers.models.auto') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_a_model_specific_class_is_left_to_autotokenizer(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import transformers

    seen: list[str] = []
    monkeypatch.setattr(
        transformers.AutoTokenizer, "from_pretrained", lambda path, **kw: seen.append(path) or path
    )
    (tmp_path / "tokenizer.json").write_text("{}")
    (tmp_path / "tokenizer_config.json").write_text(
        json.dumps({"tokenizer_class": "LlamaTokenizer"})
    )
    assert load_tokenizer(tmp_path) == str(tmp_path) and seen == [str(tmp_path)]
    assert load_tokenizer("org/hub-model") == "org/hub-model"  # a hub id: AutoTokenizer too
