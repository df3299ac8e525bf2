"""Trainer recipes: a strict, documented YAML schema with ``key=value`` overrides.

A recipe file holds every training choice (LoRA shape, optimiser, schedule, validation, prompt
template). Unknown keys are rejected and every problem in a file is reported at once, so one
edit fixes them all. Overrides from the command line (``lora.r=16 lr=1e-3``) are parsed as YAML
scalars and applied before validation.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from harness import HarnessError

RECIPES_DIR = Path(__file__).parent / "recipes"
#: Optimisers from bitsandbytes: CUDA only.
BNB_OPTIMIZERS = frozenset({"adamw_8bit", "paged_adamw_8bit", "paged_adamw_32bit"})


class LoraSettings(BaseModel):
    """The adapter's shape."""

    model_config = ConfigDict(extra="forbid")

    r: int = Field(64, ge=1, le=1024, description="LoRA rank.")
    # An integer because peft (and the adapter_config.json vLLM reads) take an int lora_alpha;
    # 16.0 is accepted, 16.5 is a validation error.
    alpha: int = Field(16, ge=1, description="lora_alpha (scale = alpha / r).")
    dropout: float = Field(0.1, ge=0, lt=1, description="Dropout on the LoRA input.")
    target_modules: list[str] | Literal["all-linear"] = Field(
        "all-linear", description="Module names to adapt, or 'all-linear'."
    )
    quantize_4bit: bool = Field(
        False, description="QLoRA: load the base in 4-bit (CUDA + bitsandbytes)."
    )


class DistributedSettings(BaseModel):
    """How several processes share the work (``harness train --num-processes N``).

    ``ddp``: every process holds the whole model and a share of each batch. ``fsdp`` (PyTorch
    FSDP2) and ``deepspeed`` (ZeRO) also shard the weights, gradients and optimiser state across
    processes, for models whose full fine-tuning does not fit one GPU. Both map to accelerate's
    plugins through the trainer's arguments (`adapters.distributed.strategy_args`).
    """

    model_config = ConfigDict(extra="forbid")

    strategy: Literal["ddp", "fsdp", "deepspeed"] = Field(
        "ddp", description="ddp, fsdp (FSDP2) or deepspeed (ZeRO; pip install deepspeed)."
    )
    sharding: Literal["full_shard", "shard_grad_op"] | None = Field(
        None,
        description="fsdp only: full_shard (default; weights re-gathered per layer) or "
        "shard_grad_op (weights kept gathered after the forward pass).",
    )
    zero_stage: Literal[1, 2, 3] | None = Field(
        None, description="deepspeed only: ZeRO stage (1 optimiser, 2 +gradients, 3 +weights)."
    )
    cpu_offload: bool = Field(
        False, description="fsdp / deepspeed: keep sharded state in CPU memory."
    )

    @model_validator(mode="after")
    def _check(self) -> DistributedSettings:
        if self.sharding is not None and self.strategy != "fsdp":
            raise ValueError("sharding applies to strategy fsdp only")
        if self.zero_stage is not None and self.strategy != "deepspeed":
            raise ValueError("zero_stage applies to strategy deepspeed only")
        if self.cpu_offload and self.strategy == "ddp":
            raise ValueError("cpu_offload needs strategy fsdp or deepspeed")
        return self


class ValidationSettings(BaseModel):
    """Held-out loss, early stopping and best-checkpoint selection."""

    model_config = ConfigDict(extra="forbid")

    split: str | None = Field(
        "valid", description="Task split for eval loss; must exist (None: hold out from train)."
    )
    holdout: float = Field(
        0.05, ge=0, lt=0.5, description="Fraction of train held out when no split."
    )
    max_items: int | None = Field(
        200, ge=1, description="Cap on validation items (eval loss cost)."
    )
    every_steps: int = Field(50, ge=1, description="Evaluate (and checkpoint) every N steps.")
    early_stopping_patience: int | None = Field(
        3, ge=1, description="Stop after N evaluations without improvement (None: never)."
    )


class Recipe(BaseModel):
    """Everything ``harness train`` needs besides the model, data and output folder."""

    model_config = ConfigDict(extra="forbid")

    method: Literal["lora", "qlora", "full"] = Field(
        "lora",
        description="lora: train an adapter; qlora: the same on a 4-bit base (sets "
        "lora.quantize_4bit); full: train every weight and save a whole model folder.",
    )
    lora: LoraSettings = LoraSettings()
    distributed: DistributedSettings = DistributedSettings()
    validation: ValidationSettings = ValidationSettings()
    epochs: float = Field(2, gt=0, description="Passes over the training data.")
    max_steps: int | None = Field(None, ge=1, description="Stop after N optimiser steps.")
    max_minutes: float | None = Field(None, gt=0, description="Stop training after this wall time.")
    max_train_items: int | None = Field(
        None, ge=1, description="Use only the first N training items."
    )
    batch_size: int = Field(4, ge=1, description="Examples per optimiser step (per device).")
    grad_accum: int = Field(1, ge=1, description="Gradient accumulation steps.")
    lr: float = Field(2.5e-5, gt=0, lt=1, description="Peak learning rate.")
    warmup_ratio: float = Field(0.03, ge=0, lt=1, description="Fraction of steps warming up.")
    warmup_steps: int | None = Field(
        None, ge=0, description="Warm-up steps; overrides warmup_ratio (use it with max_minutes)."
    )
    lr_scheduler: Literal[
        "linear", "cosine", "constant", "constant_with_warmup", "warmup_stable_decay"
    ] = Field(
        "linear",
        description="warmup_stable_decay: hold the peak, then decay to 0 over the last "
        "decay_ratio of the budget (planned steps, or max_minutes when that comes first).",
    )
    decay_ratio: float = Field(
        0.2, gt=0, le=1, description="warmup_stable_decay: fraction of the budget spent decaying."
    )
    weight_decay: float = Field(0.0, ge=0)
    max_grad_norm: float = Field(1.0, gt=0)
    precision: Literal["auto", "bf16", "fp16", "fp32"] = Field(
        "auto", description="auto: bf16 on GPUs that support it, else fp32."
    )
    max_seq_length: int = Field(1024, ge=8, description="Longer examples are truncated.")
    padding_free: bool = Field(
        False, description="Concatenate each batch into one row (no padding tokens computed)."
    )
    group_by_length: bool = Field(False, description="Batch examples of similar length.")
    template: Literal["auto", "chat", "plain", "llama2"] = Field(
        "auto",
        description="auto: chat if the tokenizer has a chat template, else plain; "
        "llama2: <s>[INST] ... [/INST].",
    )
    special_tokens: list[str] = Field(
        default_factory=list, description="Tokens added to the vocabulary (embeddings trained)."
    )
    optim: (
        Literal[
            "adamw_torch",
            "adamw_torch_fused",
            "adafactor",
            "sgd",
            "adamw_8bit",
            "paged_adamw_8bit",
            "paged_adamw_32bit",
        ]
        | None
    ) = Field(
        None,
        description="Optimiser (None: paged_adamw_8bit under lora.quantize_4bit, "
        "else adamw_torch_fused).",
    )
    gradient_checkpointing: bool | None = Field(
        None,
        description="Recompute activations in the backward pass (None: on under "
        "lora.quantize_4bit, where 24 GB GPUs run out of memory otherwise).",
    )
    seed: int = 42
    logging_steps: int = Field(5, ge=1)
    save_total_limit: int = Field(
        2, ge=1, description="Checkpoints kept (the best is always kept)."
    )

    @model_validator(mode="after")
    def _check(self) -> Recipe:
        # One switch, two spellings: method qlora and lora.quantize_4bit always agree.
        if self.method == "full" and self.lora.quantize_4bit:
            raise ValueError(
                "method full trains every weight, and 4-bit weights cannot be trained; "
                "use method: qlora or drop lora.quantize_4bit"
            )
        if self.method == "qlora" or self.lora.quantize_4bit:
            self.method, self.lora.quantize_4bit = "qlora", True
        if self.method == "qlora" and self.distributed.strategy != "ddp":
            raise ValueError(
                "method qlora runs under distributed.strategy ddp (each process holds its own "
                "4-bit base on its own GPU)"
            )
        if self.lora.quantize_4bit and self.precision == "fp32":
            raise ValueError("lora.quantize_4bit needs bf16 or fp16 compute (set precision: auto)")
        return self

    @property
    def optimizer(self) -> str:
        """The optimiser used: ``optim``, or the default for this recipe."""
        if self.optim:
            return self.optim
        return "paged_adamw_8bit" if self.lora.quantize_4bit else "adamw_torch_fused"

    @property
    def checkpointing(self) -> bool:
        """Whether gradient checkpointing is on: ``gradient_checkpointing``, or the default."""
        if self.gradient_checkpointing is not None:
            return self.gradient_checkpointing
        return self.lora.quantize_4bit


def _format_errors(source: str, err: ValidationError) -> str:
    lines = []
    for e in err.errors():
        loc = ".".join(str(p) for p in e["loc"]) or "(top level)"
        msg = "unknown key" if e["type"] == "extra_forbidden" else e["msg"]
        lines.append(f"{loc}: {msg}")
    return f"{source}: {len(lines)} error(s): " + "; ".join(lines)


def parse_overrides(overrides: list[str]) -> dict[str, Any]:
    """Turns ``["lora.r=16", "lr=1e-3"]`` into a nested dict (values parsed as YAML)."""
    import yaml

    out: dict[str, Any] = {}
    for item in overrides:
        key, sep, raw = item.partition("=")
        if not sep or not key.strip():
            raise HarnessError(f"override {item!r} is not key=value (e.g. lora.r=16)")
        # YAML 1.1 reads "1e-3" as a string; pydantic turns it into the float the field wants.
        value = yaml.safe_load(raw) if raw.strip() else None
        node = out
        parts = key.strip().split(".")
        for p in parts[:-1]:
            node = node.setdefault(p, {})
            if not isinstance(node, dict):
                raise HarnessError(f"override {item!r} conflicts with another override")
        node[parts[-1]] = value
    return out


def _merge(base: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for k, v in extra.items():
        merged[k] = (
            _merge(merged[k], v) if isinstance(v, dict) and isinstance(merged.get(k), dict) else v
        )
    return merged


def recipe_path(name_or_path: str | Path) -> Path:
    """A recipe file: a path, or the name of a shipped recipe (``cpu`` -> recipes/cpu.yaml)."""
    path = Path(name_or_path)
    if path.is_file():
        return path
    shipped = RECIPES_DIR / f"{name_or_path}.yaml"
    if shipped.is_file():
        return shipped
    names = ", ".join(sorted(p.stem for p in RECIPES_DIR.glob("*.yaml")))
    raise HarnessError(f"recipe {name_or_path} not found; pass a YAML file or one of: {names}")


def load_recipe(
    name_or_path: str | Path | None = None, overrides: list[str] | None = None
) -> Recipe:
    """Reads, overrides and validates a recipe; every error is reported in one message.

    Args:
        name_or_path: A YAML file or a shipped recipe name; None gives the default recipe.
        overrides: ``key=value`` strings applied on top of the file.

    Raises:
        HarnessError: The file is missing, not YAML, or fails validation.
    """
    import yaml

    source = "recipe"
    data: dict[str, Any] = {}
    if name_or_path is not None:
        path = recipe_path(name_or_path)
        source = str(path)
        try:
            loaded = yaml.safe_load(path.read_text())
        except yaml.YAMLError as e:
            raise HarnessError(f"{path}: not valid YAML ({str(e).splitlines()[0]})") from None
        if loaded is not None and not isinstance(loaded, dict):
            raise HarnessError(f"{path}: expected a mapping of recipe keys at the top level")
        data = loaded or {}
    if overrides:
        data = _merge(data, parse_overrides(overrides))
        source += f" (with overrides {' '.join(overrides)})"
    try:
        return Recipe.model_validate(data)
    except ValidationError as e:
        raise HarnessError(_format_errors(source, e)) from None
