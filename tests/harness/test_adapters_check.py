"""Adapter checks against the bundled model: base name and hash, rank, target modules."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
from _lora import make_lora

from harness import load_adapter
from harness._errors import ModelError
from harness._models import ResolvedModel, resolve_model
from harness.backends._base import AdapterSpec, ModelInfo
from harness.backends._vllm_common import default_dtype, lora_limits
from harness.backends.vllm_server import ServerConfig, server_command
from harness.lora._checks import check_adapters, missing_targets, model_module_names

pytestmark = pytest.mark.slow  # every test needs the bundled model; `lora` loads it


@pytest.fixture(scope="module")
def bundled() -> ResolvedModel:
    return resolve_model(None)


@pytest.fixture(scope="module")
def info(bundled: ResolvedModel) -> ModelInfo:
    return ModelInfo(id=bundled.id, path=str(bundled.path), weight_sha256=bundled.sha256)


@pytest.fixture(scope="module")
def lora(bundled: ResolvedModel, tmp_path_factory: pytest.TempPathFactory) -> AdapterSpec:
    out = tmp_path_factory.mktemp("lora") / "good"
    make_lora(bundled.path, out, base_sha256=bundled.sha256)
    return load_adapter(str(out))


def test_real_peft_adapter_fits_the_bundled_model(lora: AdapterSpec, info: ModelInfo) -> None:
    assert lora.name == "good" and lora.rank == 8
    assert set(lora.target_modules) == {"q_proj", "v_proj"}
    assert lora.base_model_sha256 == info.weight_sha256
    check_adapters([lora], info, max_rank=512)  # does not raise


def test_hash_mismatch_names_adapter_and_reason(lora: AdapterSpec, info: ModelInfo) -> None:
    other = dataclasses.replace(info, weight_sha256="f" * 64)
    with pytest.raises(ModelError) as e:
        check_adapters([lora], other)
    msg = str(e.value)
    assert msg.startswith("adapter good (") and "trained on weights" in msg and "\n" not in msg


def test_base_name_without_hash(lora: AdapterSpec, info: ModelInfo) -> None:
    no_hash = dataclasses.replace(lora, base_model_sha256=None)
    check_adapters([no_hash], info)  # trained on the converted folder's path: fits
    hub = dataclasses.replace(no_hash, base_model="HuggingFaceTB/SmolLM2-135M-Instruct")
    check_adapters([hub], info)  # the bundled model's hub id: fits
    alien = dataclasses.replace(no_hash, base_model="meta-llama/Llama-3.1-8B")
    with pytest.raises(ModelError, match=r"adapter good .*'meta-llama/Llama-3.1-8B', not on"):
        check_adapters([alien], info)


def test_rank_must_fit(lora: AdapterSpec, info: ModelInfo) -> None:
    big = dataclasses.replace(lora, rank=64)
    check_adapters([big], info, max_rank=64)
    with pytest.raises(ModelError, match=r"adapter good has LoRA rank 64, more than .* maximum 16"):
        check_adapters([big], info, max_rank=16)


def test_target_modules_must_exist(lora: AdapterSpec, info: ModelInfo) -> None:
    falcon = dataclasses.replace(lora, target_modules=("query_key_value", "q_proj"))
    with pytest.raises(ModelError, match="adapter good targets modules query_key_value that"):
        check_adapters([falcon], info)
    regex = dataclasses.replace(lora, target_modules=(r".*\.self_attn\.(q|v)_proj",))
    check_adapters([regex], info)
    check_adapters([dataclasses.replace(lora, target_modules=("all-linear",))], info)


def test_module_names_come_from_safetensors_headers(bundled: ResolvedModel) -> None:
    modules = model_module_names(bundled.path)
    assert "model.layers.0.self_attn.q_proj" in modules
    assert missing_targets(["q_proj", "down_proj", "nope"], modules) == ["nope"]


def test_duplicate_adapter_names_rejected(lora: AdapterSpec, info: ModelInfo) -> None:
    with pytest.raises(ModelError, match="adapter name 'good' is given twice"):
        check_adapters([lora, lora], info)


def test_lora_limits_round_rank_up_to_what_vllm_serves(lora: AdapterSpec) -> None:
    r12 = dataclasses.replace(lora, name="b", rank=12)
    assert lora_limits([lora]) == (8, 1)
    assert lora_limits([lora, r12]) == (16, 2)
    assert lora_limits([lora], max_rank=32) == (32, 1)
    with pytest.raises(ModelError, match="rank 600; vLLM serves ranks up to 512"):
        lora_limits([dataclasses.replace(lora, rank=600)])


def test_server_command_serves_every_adapter(lora: AdapterSpec, tmp_path: Path) -> None:
    second = dataclasses.replace(lora, name="second", rank=16)
    cfg = ServerConfig(model="/m", served_name="base", adapters=(lora, second))
    cmd = server_command(cfg, 4321)
    assert cmd[1:3] == ["-m", "vllm.entrypoints.openai.api_server"]
    joined = " ".join(cmd)
    assert "--host 127.0.0.1 --port 4321" in joined
    assert "--served-model-name base" in joined and f"--dtype {default_dtype(None)}" in joined
    assert "--enable-lora --max-lora-rank 16 --max-loras 2" in joined
    assert cmd[-2:] == [f"good={lora.path}", f"second={lora.path}"]
    assert "--enable-lora" not in server_command(ServerConfig("/m", "base"), 1)


@pytest.mark.vllm
def test_vllm_backend_checks_before_starting_the_engine(
    bundled: ResolvedModel, lora: AdapterSpec
) -> None:
    pytest.importorskip("vllm")
    from harness.backends.vllm import VLLMBackend

    backend = VLLMBackend(resolved=bundled)
    bad = dataclasses.replace(lora, base_model_sha256="0" * 64)
    with pytest.raises(ModelError, match=r"adapter good .* does not fit"):
        backend.prepare([bad])
    assert backend.llm is None  # no engine was started for a bad adapter
