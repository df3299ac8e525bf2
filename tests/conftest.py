"""Shared test setup: offline, real data from ../shared/datasets, an isolated cache."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

# Nothing phones home during tests.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("RAGAS_DO_NOT_TRACK", "true")
os.environ.setdefault("HARNESS_DATA_DIR", str((ROOT.parent / "shared" / "datasets").resolve()))


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
