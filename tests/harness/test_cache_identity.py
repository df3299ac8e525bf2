"""The request cache key holds everything that can change an answer: one test per field."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from harness import DataOptions, GenerationParams, RequestCache, RunContext, evaluate, get_task
from harness.backends import ModelInfo
from harness.backends import _base as base_module
from harness.backends.fake import FakeBackend
from harness.backends.openai import OpenAIBackend


class Tunable(FakeBackend):
    """The fake backend with a settable dtype, device, model folder and context length."""

    engine_packages = ("torch",)

    def __init__(
        self,
        model: str,
        dtype: str | None = "float32",
        device: str = "cpu",
        folder: Path | None = None,
        max_model_len: int | None = None,
        chat_template: bool | None = None,
    ) -> None:
        super().__init__(model=model, chat_template=chat_template)
        self._dtype, self._device, self._folder = dtype, device, folder
        self.max_model_len = max_model_len

    def model_info(self) -> ModelInfo:
        info = super().model_info()
        info.dtype, info.device = self._dtype, self._device
        if self._folder is not None:
            info.path = str(self._folder)
        return info


class OtherKind(Tunable):
    """The same script behind another backend name."""

    name = "fake-other"


def _calls(
    backend: FakeBackend,
    cache: RequestCache,
    data_dir: Path,
    generation: GenerationParams | None = None,
) -> int:
    task = get_task("gsm8k", num_fewshot=0)
    ctx = RunContext(cache=cache, runs_dir=None)
    data = DataOptions(data_dir=data_dir, limit=2)
    (res,) = evaluate(task, backend, data=data, generation=generation, context=ctx)
    return res.record.counts.model_calls


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    """A model folder with a config and a tokenizer config holding a chat template."""
    path = tmp_path / "model"
    path.mkdir()
    (path / "config.json").write_text(json.dumps({"model_type": "llama"}))
    (path / "tokenizer_config.json").write_text(json.dumps({"chat_template": "{{ x }}"}))
    return path


@pytest.fixture
def script(tmp_path: Path) -> str:
    path = tmp_path / "s.yaml"
    path.write_text("default: '#### 3'\n", encoding="utf-8")
    return str(path)


@pytest.mark.parametrize(
    ("changed", "expected_calls"),
    [
        ({}, 0),  # same settings: served from the cache
        ({"dtype": "bfloat16"}, 2),
        ({"device": "cuda:1"}, 2),
        ({"device": "cpu:0"}, 0),  # the device *class* matters, not the index
    ],
)
def test_dtype_and_device_class_join_the_key(
    tmp_path: Path, data_dir: Path, script: str, changed: dict[str, Any], expected_calls: int
) -> None:
    cache = RequestCache(tmp_path / "c.sqlite")
    assert _calls(Tunable(script), cache, data_dir) == 2
    assert _calls(Tunable(script, **changed), cache, data_dir) == expected_calls


def test_library_versions_join_the_key(
    tmp_path: Path, data_dir: Path, script: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    cache = RequestCache(tmp_path / "c.sqlite")
    assert _calls(Tunable(script), cache, data_dir) == 2
    assert _calls(Tunable(script), cache, data_dir) == 0
    monkeypatch.setattr(base_module, "installed_versions", lambda pkgs: {"torch": "99.0"})
    assert _calls(Tunable(script), cache, data_dir) == 2  # an upgraded engine asks again


def test_endpoint_joins_the_key_of_remote_backends() -> None:
    a = OpenAIBackend(model="m", base_url="http://127.0.0.1:8000/v1")
    b = OpenAIBackend(model="m", base_url="http://127.0.0.1:8001/v1/")
    assert a.cache_identity()["endpoint"] == "http://127.0.0.1:8000/v1"
    assert a.cache_identity() != b.cache_identity()


def _miss_after(change: Any, tmp_path: Path, data_dir: Path, first: FakeBackend) -> int:
    cache = RequestCache(tmp_path / "c.sqlite")
    assert _calls(first, cache, data_dir) == 2
    assert _calls(first, cache, data_dir) == 0  # unchanged: all from the cache
    return _calls(change(), cache, data_dir)


def test_backend_kind_joins_the_key(tmp_path: Path, data_dir: Path, script: str) -> None:
    assert _miss_after(lambda: OtherKind(script), tmp_path, data_dir, Tunable(script)) == 2


def test_quantization_joins_the_key(
    tmp_path: Path, data_dir: Path, script: str, folder: Path
) -> None:
    def quantized() -> Tunable:
        config = {"model_type": "llama", "quantization_config": {"quant_method": "awq"}}
        (folder / "config.json").write_text(json.dumps(config))
        return Tunable(script, folder=folder)

    assert _miss_after(quantized, tmp_path, data_dir, Tunable(script, folder=folder)) == 2


def test_max_model_len_joins_the_key(tmp_path: Path, data_dir: Path, script: str) -> None:
    first = Tunable(script, max_model_len=2048)
    assert _miss_after(lambda: Tunable(script, max_model_len=512), tmp_path, data_dir, first) == 2


def test_tokenizer_and_chat_template_files_join_the_key(
    tmp_path: Path, data_dir: Path, script: str, folder: Path
) -> None:
    def new_template() -> Tunable:
        (folder / "tokenizer_config.json").write_text(json.dumps({"chat_template": "{{ y }}"}))
        return Tunable(script, folder=folder)

    assert _miss_after(new_template, tmp_path, data_dir, Tunable(script, folder=folder)) == 2


def test_chat_template_on_or_off_joins_the_key() -> None:
    # (The rendered prompt differs too on real backends; the flag alone must already count.)
    on = OpenAIBackend(model="m", base_url="http://127.0.0.1:8000/v1", chat_template=True)
    off = OpenAIBackend(model="m", base_url="http://127.0.0.1:8000/v1", chat_template=False)
    assert on.cache_identity() != off.cache_identity()


def test_sampling_seed_joins_the_key(tmp_path: Path, data_dir: Path, script: str) -> None:
    cache = RequestCache(tmp_path / "c.sqlite")
    backend = Tunable(script)
    sampled = GenerationParams(temperature=0.7, seed=1)
    assert _calls(backend, cache, data_dir, sampled) == 2
    assert _calls(backend, cache, data_dir, sampled) == 0
    assert _calls(backend, cache, data_dir, GenerationParams(temperature=0.7, seed=2)) == 2


def test_served_model_name_joins_the_key_of_remote_backends() -> None:
    a = OpenAIBackend(model="smol", base_url="http://127.0.0.1:8000/v1")
    b = OpenAIBackend(model="smol-tuned", base_url="http://127.0.0.1:8000/v1")
    assert a.cache_identity()["served"] == "smol"
    assert a.cache_identity() != b.cache_identity()
