"""Fixtures for the whole-output CLI tests: a fake-backend script, a tiny adapter, run args.

Every test here runs ``harness`` on the scripted fake backend (`harness.backends.fake`) and
real gsm8k items, so the expected output is known exactly and no model is loaded. The script
answers the first three gsm8k test items by their question text: the base model gets item 1
right, item 2 wrong and has no number for item 3; the ``tuned`` adapter also gets item 2 right.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

SCRIPT = """\
default: "I cannot say."
answers:
  - contains: "Janet’s ducks lay 16 eggs"
    text: "16 - 3 - 4 = 9 eggs, 9 * 2 = 18 dollars. #### 18"
  - contains: "A robe takes 2 bolts"
    text: "It takes 2 bolts. #### 2"
adapters:
  tuned:
    answers:
      - contains: "Janet’s ducks lay 16 eggs"
        text: "#### 18"
      - contains: "A robe takes 2 bolts"
        text: "2 + 1 = 3 bolts. #### 3"
"""


@pytest.fixture(autouse=True)
def _isolated_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Weight-hash memos and default caches go to the test's folder, not ~/.cache."""
    monkeypatch.setenv("HARNESS_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("GITHUB_STEP_SUMMARY", raising=False)


@pytest.fixture
def script(tmp_path: Path) -> Path:
    """The answer script above, as ``answers.yaml`` (model id ``fake:answers``)."""
    path = tmp_path / "answers.yaml"
    path.write_text(SCRIPT, encoding="utf-8")
    return path


@pytest.fixture
def adapter(tmp_path: Path) -> Path:
    """A LoRA adapter folder named ``tuned``: what `load_adapter` reads (config + weights).

    The fake backend never loads the weights, so a few bytes stand in for them; they are
    hashed like real ones, so the adapter's requests get their own cache entries.
    """
    folder = tmp_path / "tuned"
    folder.mkdir()
    config = {"base_model_name_or_path": "fake", "r": 4, "target_modules": ["q_proj"]}
    (folder / "adapter_config.json").write_text(json.dumps(config))
    (folder / "adapter_model.safetensors").write_bytes(b"not real weights")
    return folder


@pytest.fixture
def run_args(tmp_path: Path, script: Path, data_dir: Path) -> list[str]:
    """``harness run`` on 3 gsm8k items with the fake backend, runs and cache in tmp_path."""
    return [
        "run",
        "--task", "gsm8k",
        "--limit", "3",
        "--backend", "fake",
        "--model", str(script),
        "--data-dir", str(data_dir),
        "-o", str(tmp_path / "runs"),
        "--cache", str(tmp_path / "cache.sqlite"),
    ]  # fmt: skip
