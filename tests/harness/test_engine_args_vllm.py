"""The engine settings harness builds, checked by vLLM itself: its ``EngineArgs`` knows every
dedicated flag, and its own command-line parser reads the server flags back to the same values."""

from __future__ import annotations

import pytest

from harness.backends import _engine_args as ea

pytestmark = [pytest.mark.slow, pytest.mark.vllm]

VALUES = {
    "tensor_parallel_size": 2,
    "pipeline_parallel_size": 2,
    "data_parallel_size": 2,
    "max_model_len": 4096,
    "gpu_memory_utilization": 0.5,
    "max_num_seqs": 64,
    "max_loras": 3,
    "max_lora_rank": 32,
    "enforce_eager": True,
    "quantization": "fp8",
    "kv_cache_dtype": "fp8",
}


def test_every_flag_is_a_vllm_engine_argument() -> None:
    pytest.importorskip("vllm")
    assert set(VALUES) == set(ea.ENGINE_FLAGS)
    assert set(ea.ENGINE_FLAGS) <= ea.engine_arg_names()
    assert ea.check_engine_args(VALUES) == VALUES


@pytest.mark.parametrize("eager", [True, False])
def test_vllm_parses_the_server_flags_back(eager: bool) -> None:
    pytest.importorskip("vllm")
    from vllm.engine.arg_utils import EngineArgs

    try:
        from vllm.utils.argparse_utils import FlexibleArgumentParser
    except ImportError:  # older vLLM
        from vllm.utils import FlexibleArgumentParser  # type: ignore[attr-defined,no-redef]

    values = VALUES | {"enforce_eager": eager}
    parser = EngineArgs.add_cli_args(FlexibleArgumentParser())
    parsed = parser.parse_args(["--model", "m", *ea.server_argv(values)])
    assert {k: getattr(parsed, k) for k in values} == values
