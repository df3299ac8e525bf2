"""The scale-out options of ``harness run``: vLLM engine settings and Ray replicas.

`engine_options` adds one flag per setting in `ENGINE_FLAGS` (``--tensor-parallel-size`` ...),
the repeatable ``--engine-arg KEY=VALUE`` and ``--engine-config FILE``; `engine_args` merges
them (file, then dedicated flags, then ``--engine-arg``: later wins) into the ``engine_args``
backend option. `ray_options` adds ``--ray [ADDRESS]``, ``--replicas`` and ``--replica-gpus``;
`ray_choice` turns them into `RayOptions` (None when ``--ray`` is not given), which
`run_eval` takes as its own value.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import click

from harness._errors import HarnessError
from harness.backends._engine_args import ENGINE_FLAGS, load_engine_config

if TYPE_CHECKING:
    from harness.backends.ray_replicas import RayOptions

_HELP = {
    "tensor_parallel_size": "vLLM: GPUs each model is split across (tensor parallel).",
    "pipeline_parallel_size": "vLLM: pipeline stages (across GPUs or nodes).",
    "data_parallel_size": "vLLM: engine replicas inside one vLLM (data parallel).",
    "max_model_len": "vLLM: context length (default 2048).",
    "gpu_memory_utilization": "vLLM: fraction of GPU memory the engine may take.",
    "max_num_seqs": "vLLM: sequences per engine step.",
    "max_loras": "vLLM: adapters resident at once (default: all given).",
    "max_lora_rank": "vLLM: largest LoRA rank served (default: from the adapters).",
    "enforce_eager": "vLLM: no CUDA graphs / compilation (default on CPU: on).",
    "quantization": "vLLM: weight quantization method (awq, gptq, fp8, ...).",
    "kv_cache_dtype": "vLLM: KV-cache dtype (auto, fp8, ...).",
}


def _flag(name: str, kind: type) -> Callable[..., Any]:
    flag = "--" + name.replace("_", "-")
    if kind is bool:
        return click.option(f"{flag}/--no-{flag[2:]}", name, default=None, help=_HELP[name])
    return click.option(flag, name, type=kind, default=None, help=_HELP[name])


def engine_options(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Adds the vLLM engine flags, ``--engine-arg`` and ``--engine-config``."""
    opts = [_flag(name, kind) for name, kind in ENGINE_FLAGS.items()]
    opts += [
        click.option(
            "--engine-arg",
            "engine_arg",
            multiple=True,
            metavar="KEY=VALUE",
            help="Any other vLLM engine argument (repeatable), e.g. max_num_seqs=64.",
        ),
        click.option(
            "--engine-config",
            default=None,
            metavar="FILE",
            help="YAML mapping of vLLM engine arguments (or a run config with `engine:`).",
        ),
    ]
    return functools.reduce(lambda f, o: o(f), reversed(opts), fn)


def engine_args(kw: dict[str, Any]) -> dict[str, Any]:
    """The engine settings from the parsed options (empty when none was given)."""
    import yaml

    args = load_engine_config(kw["engine_config"]) if kw.get("engine_config") else {}
    args.update({k: kw[k] for k in ENGINE_FLAGS if kw.get(k) is not None})
    for pair in kw.get("engine_arg") or ():
        key, eq, value = pair.partition("=")
        if not eq or not key.strip():
            raise HarnessError(f"--engine-arg {pair!r}: expected KEY=VALUE, e.g. max_num_seqs=64")
        args[key.strip().replace("-", "_")] = yaml.safe_load(value)
    return args


def ray_options(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Adds ``--ray [ADDRESS]``, ``--replicas N`` and ``--replica-gpus G``."""
    opts = [
        click.option(
            "--ray",
            "ray_address",
            is_flag=False,
            flag_value="local",
            default=None,
            metavar="[ADDRESS]",
            help="Run the backend as Ray actors: alone, a private local Ray on 127.0.0.1; "
            "with ADDRESS (host:port or auto), join that cluster.",
        ),
        click.option(
            "--replicas",
            type=click.IntRange(min=1),
            default=None,
            help="Backend replicas (Ray actors), each holding the base model and adapters.",
        ),
        click.option(
            "--replica-gpus",
            type=click.FloatRange(min=0.0),
            default=None,
            help="GPUs per replica (default: 1 when the cluster has a GPU per replica, else 0).",
        ),
    ]
    return functools.reduce(lambda f, o: o(f), reversed(opts), fn)


def add_engine_args(name: str, options: dict[str, Any], kw: dict[str, Any]) -> None:
    """Adds the engine settings to ``options`` (as ``engine_args``) when any was given, so a
    backend that does not take them (``hf``) refuses them by name."""
    engine = engine_args(kw)
    if engine:
        _require_engine_backend(name, engine)
        options["engine_args"] = engine


def ray_choice(kw: dict[str, Any]) -> RayOptions | None:
    """The ``--ray``/``--replicas``/``--replica-gpus`` choice (None: no Ray).

    Raises:
        HarnessError: ``--replicas`` or ``--replica-gpus`` without ``--ray``.
    """
    address = kw.get("ray_address")
    if address is None:
        if kw.get("replicas") is not None or kw.get("replica_gpus") is not None:
            raise HarnessError("--replicas and --replica-gpus need --ray (e.g. --ray --replicas 2)")
        return None
    from harness.backends.ray_replicas import RayOptions

    return RayOptions(
        address=None if address == "local" else address,
        replicas=kw.get("replicas") or 1,
        replica_gpus=kw.get("replica_gpus"),
    )


def _require_engine_backend(name: str, engine: dict[str, Any]) -> None:
    from harness.backends import backend_keywords

    if "engine_args" not in backend_keywords(name)[0]:
        flags = ", ".join(sorted(engine))
        raise HarnessError(
            f"backend {name!r} takes no vLLM engine settings ({flags}); "
            f"use --backend vllm or --backend vllm-server"
        )
