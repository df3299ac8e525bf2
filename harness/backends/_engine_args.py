"""vLLM engine settings given by the user, checked against vLLM and passed to both vLLM backends.

``harness run --tensor-parallel-size 2 --engine-arg max_num_seqs=64`` (or an ``--engine-config``
YAML file) gives a mapping of vLLM ``EngineArgs`` field names to values. `check_engine_args`
validates the names against vLLM's own dataclass (imported only then), so a typo fails before
any model loads. `offline_kwargs` merges them into the ``LLM(...)`` keyword arguments of the
offline engine and `server_argv` turns them into ``--kebab-case`` flags appended to the launched
server's command line (where the last occurrence of a flag wins). `engine_identity` is the part
that joins the request cache key: every setting except those that only size or schedule the
engine (`ANSWER_NEUTRAL`).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from harness._errors import BackendOptionError

#: The dedicated command-line flags: engine-arg name → value type.
ENGINE_FLAGS: dict[str, type] = {
    "tensor_parallel_size": int,
    "pipeline_parallel_size": int,
    "data_parallel_size": int,
    "max_model_len": int,
    "gpu_memory_utilization": float,
    "max_num_seqs": int,
    "max_loras": int,
    "max_lora_rank": int,
    "enforce_eager": bool,
    "quantization": str,
    "kv_cache_dtype": str,
}

#: Set by harness itself from its own options; the message says which option to use.
RESERVED = {
    "model": "--model",
    "tokenizer": "--model",
    "served_model_name": "--model",
    "dtype": "--dtype",
    "seed": "--seed (sampling seeds are per request)",
    "enable_lora": "--adapter (LoRA is enabled when adapters are given)",
}

#: Settings that size or schedule the engine without changing any answer: left out of the cache
#: key, like ``--batch-size``. Everything else (parallel layout, quantization, KV-cache dtype,
#: context length, compilation, unknown ``--engine-arg`` keys) joins it.
ANSWER_NEUTRAL = frozenset(
    {
        "gpu_memory_utilization",
        "max_num_seqs",
        "max_num_batched_tokens",
        "max_loras",
        "max_lora_rank",
        "max_cpu_loras",
        "data_parallel_size",
        "disable_log_stats",
        "block_size",
        "distributed_executor_backend",
    }
)


def engine_arg_names() -> frozenset[str]:
    """Field names of ``vllm.engine.arg_utils.EngineArgs`` (imports vLLM: call only when needed)."""
    import dataclasses

    from vllm.engine.arg_utils import EngineArgs

    return frozenset(f.name for f in dataclasses.fields(EngineArgs))


def normalise(args: Mapping[str, Any]) -> dict[str, Any]:
    """Keys as vLLM's field names (``max-model-len`` → ``max_model_len``), in given order."""
    return {str(k).strip().lstrip("-").replace("-", "_"): v for k, v in args.items()}


def check_engine_args(
    args: Mapping[str, Any] | None, known: frozenset[str] | None = None
) -> dict[str, Any]:
    """Validated engine settings; every bad name is reported in one message.

    Args:
        args: Engine-arg names (either spelling) to values.
        known: Valid names (None: the dedicated flags' names when every key is one of them or
            reserved — so a run on a running or warm server never imports vLLM, a 14 s import
            on 2 cores — else read from vLLM's ``EngineArgs``).

    Raises:
        BackendOptionError: A name vLLM does not know, one harness sets itself, or an
            invalid ``max_lora_rank``.
    """
    out = normalise(args or {})
    if not out:
        return out
    if known is not None:
        names = known
    elif out.keys() <= ENGINE_FLAGS.keys() | RESERVED.keys():
        names = frozenset(ENGINE_FLAGS)  # vLLM's own names: tests/harness/test_engine_args_vllm.py
    else:
        names = engine_arg_names()
    problems = [f"{k} is set by harness: use {RESERVED[k]}" for k in out if k in RESERVED]
    unknown = [k for k in out if k not in RESERVED and k not in names]
    if unknown:
        problems.append(
            f"vLLM has no engine argument {', '.join(unknown)}"
            + _did_you_mean(unknown[0], names)
            + " (see `vllm serve --help`)"
        )
    rank = out.get("max_lora_rank")
    if rank is not None and rank not in _lora_ranks():
        problems.append(f"max_lora_rank {rank} is not one of {', '.join(map(str, _lora_ranks()))}")
    if problems:
        raise BackendOptionError("engine settings: " + "; ".join(problems))
    return out


def launch_engine_args(args: Mapping[str, Any] | None, base_url: str | None) -> dict[str, Any]:
    """`check_engine_args` for a server harness launches; none for one already running."""
    if args and base_url:
        raise BackendOptionError(
            f"engine settings ({', '.join(normalise(args))}) apply to a server harness launches; "
            f"the server at {base_url} runs with its own: drop them or drop --base-url"
        )
    return check_engine_args(args)


def _did_you_mean(name: str, names: frozenset[str]) -> str:
    import difflib

    close = difflib.get_close_matches(name, sorted(names), n=1)
    return f" (did you mean {close[0]}?)" if close else ""


def _lora_ranks() -> tuple[int, ...]:
    from harness.backends._vllm_common import VLLM_LORA_RANKS

    return VLLM_LORA_RANKS


def offline_defaults(cpu: bool, args: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Harness's own defaults for the offline engine on CPU: eager mode (torch.compile cost
    start-up time there and was measured not to pay back) and, for one worker, that worker in
    this process (``uni``: vLLM's default spawns a worker process that imports torch and vLLM
    again; 36 s of a 46 s engine start on 2 cores)."""
    if not cpu:
        return {}
    args = args or {}
    workers = int(args.get("tensor_parallel_size") or 1) * int(
        args.get("pipeline_parallel_size") or 1
    )
    return {"enforce_eager": True} | (
        {"distributed_executor_backend": "uni"} if workers == 1 else {}
    )


def in_process(kwargs: Mapping[str, Any]) -> bool:
    """Whether the offline engine's core runs in this process (``uni`` executor)."""
    return kwargs.get("distributed_executor_backend") == "uni"


def offline_kwargs(kwargs: Mapping[str, Any], args: Mapping[str, Any], cpu: bool) -> dict[str, Any]:
    """The ``LLM(...)`` keyword arguments: harness's, then its CPU defaults, then the user's."""
    return {**kwargs, **offline_defaults(cpu, args), **args}


def server_argv(args: Mapping[str, Any]) -> list[str]:
    """The user's settings as ``api_server`` flags (appended last, so they win).

    True → ``--flag``; False → ``--no-flag``; lists → the flag then each item; mappings → JSON.
    """
    argv: list[str] = []
    for key, value in args.items():
        flag = "--" + key.replace("_", "-")
        if value is True:
            argv.append(flag)
        elif value is False:
            argv.append("--no-" + key.replace("_", "-"))
        elif isinstance(value, (list, tuple)):
            argv += [flag, *(str(v) for v in value)]
        elif isinstance(value, Mapping):
            argv += [flag, json.dumps(dict(value), sort_keys=True)]
        elif value is not None:
            argv += [flag, str(value)]
    return argv


def engine_identity(args: Mapping[str, Any]) -> dict[str, Any]:
    """``{"engine_args": ...}`` with the settings that can change an answer, for a backend's
    `cache_identity` (empty when there are none, so keys made without engine settings stay)."""
    changing = {k: args[k] for k in sorted(args) if k not in ANSWER_NEUTRAL}
    return {"engine_args": changing} if changing else {}


def load_engine_config(path: str) -> dict[str, Any]:
    """An ``--engine-config`` YAML file: a mapping of engine-arg names to values, or a run
    config with such a mapping under ``engine:``."""
    from pathlib import Path

    import yaml

    from harness._errors import HarnessError

    p = Path(path)
    try:
        data = yaml.safe_load(p.read_text())
    except (OSError, yaml.YAMLError) as e:
        raise HarnessError(f"--engine-config {path}: cannot read it ({e})") from None
    if isinstance(data, dict) and isinstance(data.get("engine"), dict):
        data = data["engine"]
    if not isinstance(data, dict):
        raise HarnessError(
            f"--engine-config {path}: expected a mapping of vLLM engine arguments "
            f"(e.g. `tensor_parallel_size: 2`), optionally under `engine:`"
        )
    return normalise(data)
