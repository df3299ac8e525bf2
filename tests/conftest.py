"""Shared test setup: offline, real data from ../shared/datasets, an isolated cache."""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Callable
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

# Nothing phones home during tests.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("RAGAS_DO_NOT_TRACK", "true")
os.environ.setdefault("HARNESS_DATA_DIR", str((ROOT.parent / "shared" / "datasets").resolve()))
# Absolute, so tests that change directory (tmp_path) still find the data.
os.environ["HARNESS_DATA_DIR"] = str(Path(os.environ["HARNESS_DATA_DIR"]).resolve())

# Two tiers on a GPU machine: plain `pytest` runs everything on CPU (no CUDA device visible, in
# this process and in the harness subprocesses tests start); `HARNESS_TEST_GPU=1 pytest` runs
# only the `gpu_capable` tests, on the GPU (on a CPU machine, on the CPU).
GPU_TESTS = os.environ.get("HARNESS_TEST_GPU") == "1"
if not GPU_TESTS:
    os.environ["CUDA_VISIBLE_DEVICES"] = ""


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if not GPU_TESTS:
        return
    keep = [i for i in items if i.get_closest_marker("gpu_capable")]
    config.hook.pytest_deselected(items=[i for i in items if i not in keep])
    items[:] = keep


@pytest.fixture(autouse=True)
def _pin_to_cpu(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    """On a GPU machine, tests not marked ``gpu_capable`` see no CUDA device.

    Their expectations (float32 results, exact equality, CPU timings) are CPU ones; the
    ``gpu_capable`` tests run on the GPU and assert the resolved device and dtype instead.
    """
    if request.node.get_closest_marker("gpu_capable") or importlib.util.find_spec("torch") is None:
        return
    import torch

    if torch.cuda.is_available():
        monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
        monkeypatch.setattr(torch.cuda, "device_count", lambda: 0)


@pytest.fixture(autouse=True)
def _own_request_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test's request cache is its own file (``$HARNESS_CACHE``, inherited by the harness
    processes it starts): no test writes into ~/.cache/harness, and none is answered from
    replies another test (or an earlier run) left there. Tests that set it themselves win."""
    monkeypatch.setenv("HARNESS_CACHE", str(tmp_path / "requests.sqlite"))


@pytest.fixture(autouse=True)
def _settings_follow_environment() -> None:
    """Library code sees harness's environment variables as each test sets them: the test
    suite is an edge like the command line, and installs `settings_from_env` itself (read at
    every look-up). A command a test invoked installs a fixed copy; this undoes it."""
    from harness._settings import settings_from_env, use_settings

    use_settings(settings_from_env)


@pytest.fixture
def device() -> str:
    """The device ``--device auto`` resolves to here (CUDA in ``gpu_capable`` tests on a GPU)."""
    from harness._device import resolve_device

    return resolve_device("auto")


@pytest.fixture
def rel_tol() -> Callable[[str], float]:
    """Relative tolerance for numbers two code paths computed in a dtype (bf16 keeps 8 bits)."""
    return lambda dtype: {"float32": 1e-4, "float16": 5e-3, "bfloat16": 3e-2}[dtype]


@pytest.fixture(scope="session")
def data_dir() -> Path:
    path = Path(os.environ["HARNESS_DATA_DIR"])
    if not (path / "gsm8k" / "test.jsonl").is_file():
        pytest.fail(f"test data not found at {path}; set HARNESS_DATA_DIR to the datasets folder")
    return path


@pytest.fixture(scope="session")
def bundled_model():
    """The bundled SmolLM2 model, converted once per machine."""
    from harness import resolve_model

    return resolve_model(None)


@pytest.fixture
def cache_path(tmp_path: Path) -> Path:
    return tmp_path / "requests.sqlite"
