"""The request cache key holds everything that can change an answer: one test per field."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from harness import DataOptions, RequestCache, RunContext, evaluate, get_task
from harness.backends import ModelInfo
from harness.backends import _base as base_module
from harness.backends.fake import FakeBackend
from harness.backends.openai import OpenAIBackend


class Tunable(FakeBackend):
    """The fake backend with a settable dtype, device and engine packages."""

    engine_packages = ("torch",)

    def __init__(self, model: str, dtype: str | None = "float32", device: str = "cpu") -> None:
        super().__init__(model=model)
        self._dtype, self._device = dtype, device

    def model_info(self) -> ModelInfo:
        info = super().model_info()
        info.dtype, info.device = self._dtype, self._device
        return info


def _calls(backend: FakeBackend, cache: RequestCache, data_dir: Path) -> int:
    task = get_task("gsm8k", num_fewshot=0)
    ctx = RunContext(cache=cache, runs_dir=None)
    (res,) = evaluate(task, backend, data=DataOptions(data_dir=data_dir, limit=2), context=ctx)
    return res.record.counts.model_calls


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
