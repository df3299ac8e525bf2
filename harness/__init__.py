"""harness: evaluate base LLMs and their LoRA adapters, with evidence.

The public API. Tasks, judges and user code import from here, never from the private
modules. Importing this package is cheap: torch, transformers and vLLM load only when a
backend is built.
"""

from typing import Any

from harness import _env  # noqa: F401  (process settings that must precede torch)
from harness._aggregate import bootstrap_metric, mean_metric
from harness._cache import RequestCache, default_cache_path, harness_home, request_key
from harness._context import CodeExecution, RunContext
from harness._data import (
    DataOptions,
    Dataset,
    DatasetInfo,
    dataset_dir,
    load_hub,
    read_csv,
    read_jsonl,
    read_text,
    select_items,
    sha256_file,
)
from harness._device import resolve_device, resolve_dtype
from harness._errors import BackendError, DataError, HarnessError, ModelError
from harness._eval import run_eval
from harness._loader import get_task, load_dataset
from harness._models import ResolvedModel, resolve_model, weights_sha256
from harness._registry import Registry
from harness._requests import RequestResult
from harness._runner import EvalResult, evaluate, with_overrides
from harness._scorer import Scorer, scorer, scorers
from harness._settings import Settings, current_settings, settings_from_env, use_settings
from harness._task import Task, task, tasks
from harness._types import (
    Generation,
    GenerationParams,
    Message,
    MetricValue,
    Output,
    Prompt,
    Sample,
    Score,
)
from harness._ui import Reporter
from harness.backends import AdapterSpec, Backend, ModelInfo, backends, build_backend
from harness.lora import load_adapter
from harness.record import RunRecord, SampleRecord, read_run, read_samples
from harness.stats import CLUSTER_KEY, wilson_interval

# Loaded on first use, so `import harness` (and `harness --help`) stays fast.
_LAZY = {
    "LoadedRun": "harness.runstore",
    "load_runs": "harness.runstore",
    "GatePolicy": "harness.gate",
    "load_policy": "harness.gate",
    "PassAtK": "harness.passk",
    "pass_at_k": "harness.passk",
    "build_report": "harness.report",
    "write_report": "harness.report",
    "ExecResult": "harness.sandbox",
    "Limits": "harness.sandbox",
    "Sandbox": "harness.sandbox",
    "SandboxError": "harness.sandbox",
    "load_yaml_task": "harness.yaml_task",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'harness' has no attribute {name!r}")


__all__ = [
    "CLUSTER_KEY",
    "AdapterSpec",
    "Backend",
    "BackendError",
    "CodeExecution",
    "DataError",
    "DataOptions",
    "Dataset",
    "DatasetInfo",
    "EvalResult",
    "ExecResult",
    "GatePolicy",
    "Generation",
    "GenerationParams",
    "HarnessError",
    "Limits",
    "LoadedRun",
    "Message",
    "MetricValue",
    "ModelError",
    "ModelInfo",
    "Output",
    "PassAtK",
    "Prompt",
    "Registry",
    "Reporter",
    "RequestCache",
    "RequestResult",
    "ResolvedModel",
    "RunContext",
    "RunRecord",
    "Sample",
    "SampleRecord",
    "Sandbox",
    "SandboxError",
    "Score",
    "Scorer",
    "Settings",
    "Task",
    "backends",
    "bootstrap_metric",
    "build_backend",
    "build_report",
    "current_settings",
    "dataset_dir",
    "default_cache_path",
    "evaluate",
    "get_task",
    "harness_home",
    "load_adapter",
    "load_dataset",
    "load_hub",
    "load_policy",
    "load_runs",
    "load_yaml_task",
    "mean_metric",
    "pass_at_k",
    "read_csv",
    "read_jsonl",
    "read_run",
    "read_samples",
    "read_text",
    "request_key",
    "resolve_device",
    "resolve_dtype",
    "resolve_model",
    "run_eval",
    "scorer",
    "scorers",
    "select_items",
    "settings_from_env",
    "sha256_file",
    "task",
    "tasks",
    "use_settings",
    "weights_sha256",
    "wilson_interval",
    "with_overrides",
    "write_report",
]
