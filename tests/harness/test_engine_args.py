"""vLLM engine settings: every flag reaches the offline engine's ``LLM(...)`` and the launched
server's command line, bad names fail in one line, and answer-changing ones join the cache key.

No engine starts here: ``vllm`` is replaced by a module that records ``LLM``'s arguments, and
the server by one that records its `ServerConfig`. The names are checked against vLLM's real
``EngineArgs`` and its real argument parser in ``test_engine_args_vllm.py`` (slow).
"""

from __future__ import annotations

import sys
import types
from pathlib import Path
from typing import Any

import pytest
from test_backend_options import _run_with

from harness._errors import BackendOptionError, ModelError
from harness._models import ResolvedModel
from harness.backends import AdapterSpec, vllm_server
from harness.backends import _engine_args as ea
from harness.backends import openai as openai_module
from harness.backends import vllm as vllm_module

# One value per dedicated flag, as typed on the command line and as vLLM gets it.
FLAGS = [
    ("--tensor-parallel-size", "2", "tensor_parallel_size", 2),
    ("--pipeline-parallel-size", "2", "pipeline_parallel_size", 2),
    ("--data-parallel-size", "2", "data_parallel_size", 2),
    ("--max-model-len", "4096", "max_model_len", 4096),
    ("--gpu-memory-utilization", "0.5", "gpu_memory_utilization", 0.5),
    ("--max-num-seqs", "64", "max_num_seqs", 64),
    ("--max-loras", "3", "max_loras", 3),
    ("--max-lora-rank", "32", "max_lora_rank", 32),
    ("--enforce-eager", None, "enforce_eager", True),
    ("--quantization", "fp8", "quantization", "fp8"),
    ("--kv-cache-dtype", "fp8", "kv_cache_dtype", "fp8"),
]
ALL_ARGS = [a for flag, value, _, _ in FLAGS for a in ([flag] if value is None else [flag, value])]
EXPECTED = {name: value for _, _, name, value in FLAGS}
KNOWN = frozenset(EXPECTED) | {"max_num_batched_tokens", "enable_prefix_caching"}


def _cli_options(monkeypatch: pytest.MonkeyPatch, data_dir: Path, args: list[str]) -> Any:
    """``harness run`` up to the backend: (exit code, stderr, what `build_backend` got)."""
    return _run_with(monkeypatch, data_dir, args)


def test_every_flag_reaches_the_backend(monkeypatch: pytest.MonkeyPatch, data_dir: Path) -> None:
    _, err, seen = _cli_options(monkeypatch, data_dir, ["-b", "vllm", *ALL_ARGS])
    assert err == "error: stopped before the model\n"
    assert seen["options"] == {"engine_args": EXPECTED}


def test_engine_arg_and_config_file_merge_flags_win(
    monkeypatch: pytest.MonkeyPatch, data_dir: Path, tmp_path: Path
) -> None:
    config = tmp_path / "run.yaml"
    config.write_text("engine:\n  max-model-len: 1024\n  max_num_seqs: 8\n  enforce_eager: false\n")
    args = ["-b", "vllm-server", "--engine-config", str(config), "--max-model-len", "512"]
    args += ["--engine-arg", "max_num_batched_tokens=4096", "--engine-arg", "max-num-seqs=16"]
    _, _, seen = _cli_options(monkeypatch, data_dir, args)
    assert seen["options"]["engine_args"] == {
        "max_model_len": 512,
        "max_num_seqs": 16,
        "enforce_eager": False,
        "max_num_batched_tokens": 4096,
    }


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["-b", "hf", "--tensor-parallel-size", "2"],
            (
                "error: backend 'hf' takes no vLLM engine settings (tensor_parallel_size); "
                "use --backend vllm or --backend vllm-server\n"
            ),
        ),
        (
            ["-b", "vllm", "--engine-arg", "max_num_seqs"],
            "error: --engine-arg 'max_num_seqs': expected KEY=VALUE, e.g. max_num_seqs=64\n",
        ),
        (
            ["-b", "vllm", "--engine-config", "/nonexistent/run.yaml"],
            (
                "error: --engine-config /nonexistent/run.yaml: cannot read it ([Errno 2] No such "
                "file or directory: '/nonexistent/run.yaml')\n"
            ),
        ),
        (
            ["--replicas", "2"],
            ("error: --replicas and --replica-gpus need --ray (e.g. --ray --replicas 2)\n"),
        ),
    ],
)
def test_bad_scale_options_are_one_line_usage_errors(
    monkeypatch: pytest.MonkeyPatch, data_dir: Path, args: list[str], message: str
) -> None:
    code, err, seen = _cli_options(monkeypatch, data_dir, args)
    assert (code, err, seen) == (2, message, {})


def test_unknown_and_reserved_names_are_reported_at_once() -> None:
    with pytest.raises(BackendOptionError) as err:
        ea.check_engine_args({"max_num_seq": 4, "dtype": "half", "max_lora_rank": 12}, known=KNOWN)
    assert str(err.value) == (
        "engine settings: dtype is set by harness: use --dtype; vLLM has no engine argument "
        "max_num_seq (did you mean max_num_seqs?) (see `vllm serve --help`); max_lora_rank 12 "
        "is not one of 1, 8, 16, 32, 64, 128, 256, 320, 512"
    )


def test_dedicated_flags_are_checked_without_importing_vllm(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A run on a warm or running server must not pay vLLM's import for its own flags."""
    calls: list[int] = []
    monkeypatch.setattr(ea, "engine_arg_names", lambda: calls.append(1) or KNOWN)
    assert ea.check_engine_args({"max-model-len": 4096, "max_num_seqs": 8}) == {
        "max_model_len": 4096,
        "max_num_seqs": 8,
    }
    assert calls == []
    with pytest.raises(BackendOptionError, match="max_num_seq "):
        ea.check_engine_args({"max_model_len": 4096, "max_num_seq": 8})
    assert calls == [1]  # a name outside the dedicated flags: vLLM's own list decides


# -- the offline engine ------------------------------------------------------------------------


class _Renderer:
    def __init__(
        self, path: Any, chat_template: bool | None = None, chat_template_kwargs: Any = None
    ) -> None:
        self.chat_template = bool(chat_template)
        self.add_special_tokens = True


@pytest.fixture
def fake_vllm(monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """A ``vllm`` module whose ``LLM`` records its keyword arguments."""
    seen: dict[str, Any] = {}

    class LLM:
        def __init__(self, **kwargs: Any) -> None:
            seen.update(kwargs)

    root = types.ModuleType("vllm")
    root.LLM = LLM  # type: ignore[attr-defined]
    request = types.ModuleType("vllm.lora.request")
    request.LoRARequest = lambda *a: a  # type: ignore[attr-defined]
    for name, mod in [("vllm", root), ("vllm.lora", types.ModuleType("vllm.lora"))]:
        monkeypatch.setitem(sys.modules, name, mod)
    monkeypatch.setitem(sys.modules, "vllm.lora.request", request)
    monkeypatch.setattr(vllm_module, "PromptRenderer", _Renderer)
    monkeypatch.setattr(vllm_module, "require_vllm", lambda: None)
    monkeypatch.setattr(vllm_module, "check_adapters", lambda *a: None)
    monkeypatch.setattr(vllm_module._cleanup, "register", lambda owner: None)
    monkeypatch.setattr(ea, "engine_arg_names", lambda: KNOWN)
    return seen


MODEL = ResolvedModel(id="m", path=Path("/models/m"), sha256="abc")
ADAPTER = AdapterSpec(name="a1", path=Path("/adapters/a1"), sha256="def", rank=8)


def _offline(cpu: bool, monkeypatch: pytest.MonkeyPatch, **kw: Any) -> Any:
    monkeypatch.setattr(vllm_module, "on_cpu", lambda: cpu)
    monkeypatch.setattr(vllm_module, "vllm_device", lambda device=None: "cpu" if cpu else "cuda")
    monkeypatch.setattr(vllm_module, "default_dtype", lambda dtype, device: dtype or "float32")
    monkeypatch.setattr(vllm_module, "gpu_memory_share", lambda share, device: share)
    return vllm_module.VLLMBackend(resolved=MODEL, **kw)


def test_offline_engine_gets_every_setting(
    fake_vllm: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    backend = _offline(False, monkeypatch, dtype="float16", engine_args=dict(EXPECTED))
    backend.prepare([ADAPTER])
    assert fake_vllm == {
        "model": "/models/m",
        "dtype": "float16",
        "seed": 0,
        "enable_lora": True,
        **EXPECTED,
    }
    info = backend.model_info()
    assert info.extra["engine_args"] == EXPECTED and info.extra["max_model_len"] == 4096


def test_offline_engine_on_cpu_runs_eager_unless_told(
    fake_vllm: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    _offline(True, monkeypatch).prepare([])
    assert fake_vllm["enforce_eager"] is True and fake_vllm["max_model_len"] == 2048
    fake_vllm.clear()
    _offline(True, monkeypatch, engine_args={"enforce_eager": False}).prepare([])
    assert fake_vllm["enforce_eager"] is False


def test_offline_engine_on_cpu_runs_its_one_worker_in_this_process(
    fake_vllm: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    import os

    seen_env: list[str | None] = []
    monkeypatch.delenv("VLLM_ENABLE_V1_MULTIPROCESSING", raising=False)
    init = sys.modules["vllm"].LLM.__init__  # type: ignore[attr-defined]

    def spy(self: Any, **kwargs: Any) -> None:
        seen_env.append(os.environ.get("VLLM_ENABLE_V1_MULTIPROCESSING"))
        init(self, **kwargs)

    monkeypatch.setattr(sys.modules["vllm"].LLM, "__init__", spy)  # type: ignore[attr-defined]
    _offline(True, monkeypatch).prepare([])
    assert fake_vllm["distributed_executor_backend"] == "uni"
    assert seen_env == ["0"]  # the engine core joins this process while the engine starts
    assert "VLLM_ENABLE_V1_MULTIPROCESSING" not in os.environ  # and only then
    fake_vllm.clear()
    _offline(True, monkeypatch, engine_args={"tensor_parallel_size": 2}).prepare([])
    assert "distributed_executor_backend" not in fake_vllm  # two workers: vLLM's own executor
    assert seen_env == ["0", None]
    fake_vllm.clear()
    _offline(False, monkeypatch).prepare([])
    assert "distributed_executor_backend" not in fake_vllm and "enforce_eager" not in fake_vllm


def test_offline_lora_rank_below_an_adapter_is_refused(
    fake_vllm: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    from harness.lora import _checks

    monkeypatch.setattr(vllm_module, "check_adapters", _checks.check_adapters)
    monkeypatch.setattr(_checks, "base_matches", lambda a, m: None)
    backend = _offline(False, monkeypatch, engine_args={"max_lora_rank": 8})
    big = AdapterSpec(name="big", path=Path("/a/big"), sha256="x", rank=16)
    with pytest.raises(ModelError, match=r"adapter big has LoRA rank 16, more than .* maximum 8"):
        backend.prepare([big])
    assert fake_vllm == {}  # refused before the engine


# -- the launched server -----------------------------------------------------------------------


def _server_argv(monkeypatch: pytest.MonkeyPatch, **kw: Any) -> list[str]:
    """The command line the server backend would launch ``vllm``'s API server with."""
    seen: dict[str, Any] = {}

    class Server:
        base_url = "http://127.0.0.1:9/v1"

        def __init__(self, config: Any) -> None:
            seen["config"] = config

        def start(self) -> Server:
            return self

    monkeypatch.setattr(openai_module, "PromptRenderer", _Renderer)
    monkeypatch.setattr(openai_module, "check_adapters", lambda *a: None)
    monkeypatch.setattr(vllm_server, "VLLMServer", Server)
    monkeypatch.setattr(vllm_server, "vllm_device", lambda device=None: "cuda")
    monkeypatch.setattr(vllm_server, "default_dtype", lambda dtype, device: "bfloat16")
    monkeypatch.setattr(ea, "engine_arg_names", lambda: KNOWN)
    backend = openai_module.VLLMServerBackend(resolved=MODEL, **kw)
    backend.prepare([ADAPTER])
    return vllm_server.server_command(seen["config"], 8000)


def test_server_gets_every_setting_last_so_it_wins(monkeypatch: pytest.MonkeyPatch) -> None:
    argv = _server_argv(monkeypatch, engine_args=dict(EXPECTED))
    tail = argv[argv.index("--lora-modules") + 2 :]
    assert tail == [
        "--tensor-parallel-size", "2",
        "--pipeline-parallel-size", "2",
        "--data-parallel-size", "2",
        "--gpu-memory-utilization", "0.5",
        "--max-num-seqs", "64",
        "--max-loras", "3",
        "--max-lora-rank", "32",
        "--enforce-eager",
        "--quantization", "fp8",
        "--kv-cache-dtype", "fp8",
    ]  # fmt: skip
    # harness's own --max-model-len (once) / --max-lora-rank already carry the user's values
    assert argv.count("--max-model-len") == 1
    assert argv[argv.index("--max-model-len") + 1] == "4096"
    assert argv[argv.index("--max-lora-rank") + 1] == "32"


def test_server_flag_spelling_of_other_values() -> None:
    argv = ea.server_argv(
        {"enforce_eager": False, "cuda_graph_sizes": [1, 2], "hf_overrides": {"a": 1}}
    )
    assert argv == [
        "--no-enforce-eager",
        "--cuda-graph-sizes", "1", "2",
        "--hf-overrides", '{"a": 1}',
    ]  # fmt: skip


def test_engine_settings_with_a_running_server_are_refused() -> None:
    with pytest.raises(BackendOptionError, match="apply to a server harness launches"):
        openai_module.VLLMServerBackend(
            base_url="http://127.0.0.1:1/v1", engine_args={"max_num_seqs": 4}
        )


# -- the cache key -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "joins"),
    [
        ({"tensor_parallel_size": 2}, True),
        ({"pipeline_parallel_size": 2}, True),
        ({"quantization": "fp8"}, True),
        ({"kv_cache_dtype": "fp8"}, True),
        ({"max_model_len": 4096}, True),
        ({"enforce_eager": True}, True),
        ({"enable_prefix_caching": True}, True),  # unknown to harness: assumed to matter
        ({"gpu_memory_utilization": 0.5}, False),
        ({"max_num_seqs": 8}, False),
        ({"max_loras": 2}, False),
        ({"max_lora_rank": 64}, False),
        ({"data_parallel_size": 2}, False),
    ],
)
def test_answer_changing_settings_join_the_cache_key(
    fake_vllm: dict[str, Any], monkeypatch: pytest.MonkeyPatch, args: dict[str, Any], joins: bool
) -> None:
    monkeypatch.setattr(vllm_module.Backend, "cache_identity", lambda self: {"dtype": "auto"})
    plain = _offline(False, monkeypatch).cache_identity()
    tuned = _offline(False, monkeypatch, engine_args=args).cache_identity()
    assert plain == {"dtype": "auto"}
    assert (tuned != plain) is joins
    if joins:
        assert tuned["engine_args"] == args


def test_the_cpu_eager_default_joins_the_offline_key(
    fake_vllm: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(vllm_module.Backend, "cache_identity", lambda self: {})
    assert _offline(True, monkeypatch).cache_identity() == {"engine_args": {"enforce_eager": True}}
