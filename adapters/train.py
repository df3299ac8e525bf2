"""The training recipe behind ``harness train`` (LoRA, QLoRA or full): setup, fit, save, cleanup.

Read top to bottom, it is the whole procedure. `setup` resolves the base model, picks device and
precision, builds the examples (the task's own eval-time prompts) and tokenizes them with a
completion-only loss mask. `fit` runs TRL's ``SFTTrainer`` with peft LoRA (QLoRA when asked and
CUDA + bitsandbytes are present), evaluating the held-out loss every N steps, stopping early on
it, keeping the best checkpoint and resuming from the last one after an interruption. `save`
writes a standard PEFT adapter folder, ``adapter_manifest.json`` and ``loss_curve.png``, and
registers the adapter by name; ``method: full`` trains every weight instead and writes a whole
model folder (weights, config, tokenizer, the same manifest) that ``harness run --model``
loads. `cleanup` drops intermediate checkpoints and frees memory.
"""

from __future__ import annotations

import gc
import math
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from adapters.callbacks import ProgressPrinter, TimeLimit, stage
from adapters.data import (
    DataSource,
    Example,
    encode,
    file_examples,
    resolve_template,
    task_examples,
)
from adapters.distributed import (
    check_engaged,
    check_strategy,
    is_main_process,
    qlora_device_map,
    settings,
    strategy_args,
)
from adapters.manifest import (
    build_manifest,
    loss_history,
    plot_loss,
    validation_drift,
    write_manifest,
)
from adapters.recipe import BNB_OPTIMIZERS, Recipe
from adapters.schedule import Budget
from adapters.sft_trainer import trainer_class
from harness import DataError, HarnessError, ModelError, ResolvedModel, resolve_model
from harness.lora import register_adapter

CHECKPOINTS = "checkpoints"


@dataclass
class TrainRequest:
    """What to train: base model, data, recipe and output folder.

    Attributes:
        out: Adapter folder to write (its name is the adapter's registry name).
        recipe: The validated recipe.
        recipe_source: Recipe file and overrides, recorded in the manifest.
        model: Base model spec (bundled name, folder or hub id); None is the bundled model.
        task: Train on this task's train split (with its eval-time prompt) ...
        data: ... or on this JSONL file (alpaca or chat rows).
        data_dir: Dataset root for the task (default ``$HARNESS_DATA_DIR``).
        resume: Continue from the last checkpoint in ``out/checkpoints`` if there is one.
    """

    out: Path
    recipe: Recipe
    recipe_source: str = "defaults"
    model: str | None = None
    task: str | None = None
    data: Path | None = None
    data_dir: Path | None = None
    resume: bool = True


@dataclass
class Session:
    """Everything `setup` builds and the later stages use."""

    request: TrainRequest
    base: ResolvedModel
    device: str
    dtype: str
    tokenizer: Any
    model: Any
    train_rows: list[dict[str, list[int]]]
    eval_rows: list[dict[str, list[int]]]
    source: DataSource
    template: str
    started: float = field(default_factory=time.time)
    trainer: Any = None
    resumed_from: str | None = None
    drift: dict[str, Any] | None = None  # validation vs training prompts, for the manifest
    devices: int = 1  # data-parallel devices per optimiser step


def train(request: TrainRequest) -> Path:
    """Runs the whole recipe and returns the adapter folder."""
    session = setup(request)
    try:
        fit(session)
        save(session)
    finally:
        cleanup(session)
    return request.out


# ---------------------------------------------------------------- setup


def pick_device(recipe: Recipe) -> tuple[str, str]:
    """(device, precision): CUDA with bf16 where native (compute capability 8.0+, not emulated),
    else fp16; CPU in fp32. The rule is `harness._device.resolve_dtype`'s."""
    import torch

    from harness import resolve_dtype

    if torch.cuda.is_available():
        short = {"bfloat16": "bf16", "float16": "fp16"}
        auto = short[resolve_dtype("auto", "cuda")]
        return "cuda", auto if recipe.precision == "auto" else recipe.precision
    if recipe.optimizer in BNB_OPTIMIZERS:
        raise HarnessError(
            f"optim {recipe.optimizer} (bitsandbytes) needs a CUDA GPU; set optim=adamw_torch"
        )
    if recipe.lora.quantize_4bit:
        raise HarnessError("method qlora (lora.quantize_4bit) needs a CUDA GPU; set method=lora")
    if recipe.precision in ("bf16", "fp16"):
        raise HarnessError(
            f"precision {recipe.precision} needs a GPU here; set precision=auto (fp32 on CPU)"
        )
    return "cpu", "fp32"


def _examples(request: TrainRequest) -> tuple[list[Example], list[Example], DataSource]:
    recipe = request.recipe
    if (request.task is None) == (request.data is None):
        raise HarnessError("pass exactly one of --task or --data")
    if request.task:
        train_ex, source = task_examples(
            request.task, "train", request.data_dir, recipe.max_train_items
        )
        split = recipe.validation.split
        if split:
            # The recipe asked for this split: falling back to a holdout would change what the
            # eval loss, early stopping and the best checkpoint mean without saying so.
            try:
                eval_ex, vsource = task_examples(
                    request.task, split, request.data_dir, recipe.validation.max_items
                )
            except DataError as e:
                raise DataError(
                    f"validation split {split!r} of task {request.task!r}: {e}; set "
                    f"validation.split to a split the task has, or validation.split=null to "
                    f"hold out {recipe.validation.holdout:.0%} of train"
                ) from None
            source.files.update(vsource.files)
            return train_ex, eval_ex, source
    else:
        assert request.data is not None
        train_ex, source = file_examples(request.data)
        train_ex = train_ex[: recipe.max_train_items]
    n_hold = max(1, int(len(train_ex) * recipe.validation.holdout))
    if len(train_ex) < 2:
        raise DataError("need at least 2 training examples (one is held out for validation)")
    eval_ex = train_ex[-n_hold:][: recipe.validation.max_items]
    return train_ex[:-n_hold], eval_ex, source


def _load_model(base: ResolvedModel, device: str, precision: str, recipe: Recipe) -> Any:
    import torch
    from transformers import AutoModelForCausalLM

    dtype = {"bf16": torch.bfloat16, "fp16": torch.float16, "fp32": torch.float32}[precision]
    # Full fine-tuning keeps float32 master weights (bf16/fp16 autocast runs the matmuls):
    # Adam's small updates vanish below a half-precision weight's resolution.
    load_dtype = torch.float32 if recipe.method == "full" else dtype
    kwargs: dict[str, Any] = {"dtype": load_dtype}
    if recipe.lora.quantize_4bit:
        try:
            import bitsandbytes  # noqa: F401
            from transformers import BitsAndBytesConfig
        except ImportError:
            raise HarnessError(
                "QLoRA needs bitsandbytes: pip install bitsandbytes (CUDA only)"
            ) from None
        kwargs["quantization_config"] = BitsAndBytesConfig(
            load_in_4bit=True,
            bnb_4bit_quant_type="nf4",
            bnb_4bit_compute_dtype=dtype,
            bnb_4bit_use_double_quant=True,
        )
        kwargs["device_map"] = qlora_device_map()  # this process's own GPU
    try:
        model = AutoModelForCausalLM.from_pretrained(base.path, **kwargs)
    except (OSError, ValueError) as e:
        raise ModelError(
            f"cannot load {base.id} from {base.path}: {str(e).splitlines()[0]}"
        ) from None
    return model


def setup(request: TrainRequest) -> Session:
    """Resolves the model, builds and tokenizes the data, loads the base model."""

    recipe = request.recipe
    train_ex, eval_ex, source = _examples(request)  # data errors first: they need no torch
    check_strategy(recipe)
    stage(f"formatting {len(train_ex)} training and {len(eval_ex)} validation examples")
    device, precision = pick_device(recipe)
    base = resolve_model(request.model)
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(base.path)
    if recipe.special_tokens:
        tokenizer.add_special_tokens({"additional_special_tokens": recipe.special_tokens})
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    template = resolve_template(tokenizer, recipe.template)
    train_rows = [
        r for e in train_ex if (r := encode(tokenizer, e, template, recipe.max_seq_length))
    ]
    eval_rows = [r for e in eval_ex if (r := encode(tokenizer, e, template, recipe.max_seq_length))]
    if not train_rows or not eval_rows:
        raise DataError(
            "no example fits max_seq_length with room for its completion; raise max_seq_length"
        )
    drift = validation_drift(train_ex, eval_ex)
    stage(f"loading {base.id} ({precision} on {device})")
    model = _load_model(base, device, precision, recipe)
    if recipe.special_tokens:
        model.resize_token_embeddings(len(tokenizer))
    session = Session(
        request, base, device, precision, tokenizer, model, train_rows, eval_rows, source, template
    )
    session.drift = drift
    return session


# ---------------------------------------------------------------- fit


def _lora_config(recipe: Recipe) -> Any:
    """The peft config; None for ``method: full`` (every weight trains)."""
    from peft import LoraConfig

    if recipe.method == "full":
        return None
    return LoraConfig(
        r=recipe.lora.r,
        lora_alpha=recipe.lora.alpha,
        lora_dropout=recipe.lora.dropout,
        target_modules=recipe.lora.target_modules,
        task_type="CAUSAL_LM",
        bias="none",
        # New tokens need trainable embeddings, or their vectors stay random.
        modules_to_save=["embed_tokens", "lm_head"] if recipe.special_tokens else None,
    )


def planned_steps(recipe: Recipe, n_train: int, devices: int = 1) -> int:
    """Optimiser steps the recipe asks for on ``n_train`` examples when each step takes
    ``batch_size × grad_accum`` examples on each of ``devices`` data-parallel devices."""
    per_epoch = math.ceil(n_train / (recipe.batch_size * recipe.grad_accum * max(1, devices)))
    epochs_steps = math.ceil(per_epoch * recipe.epochs)
    return min(epochs_steps, recipe.max_steps) if recipe.max_steps else epochs_steps


def make_budget(recipe: Recipe, n_train: int, devices: int) -> Budget:
    """The progress budget (`warmup_stable_decay`, ETA) of a run on ``devices`` data-parallel
    processes: N processes take N times the examples per step, so 1/N of the steps."""
    steps = planned_steps(recipe, n_train, devices)
    return Budget(steps, recipe.max_minutes * 60 if recipe.max_minutes else None)


def warmup_steps(recipe: Recipe, steps: int) -> int:
    """``warmup_steps`` if given, else ``warmup_ratio`` of the planned steps.

    A time-limited run stops long before the planned steps: a ratio of those would leave it
    warming up throughout, hence the explicit count.
    """
    if recipe.warmup_steps is not None:
        return recipe.warmup_steps
    return round(recipe.warmup_ratio * steps)


def one_device(args: Any) -> int:
    """Trains on one device unless launched distributed; returns the data-parallel devices.

    Without a distributed launcher the HF Trainer spreads a batch over every visible GPU with
    ``nn.DataParallel`` (or, for a 4-bit model, runs ``batch × n_gpu`` rows on GPU 0), which
    the planned steps did not count; one process trains on one GPU here. Under a launcher
    (``torchrun``/``accelerate``), each process has one GPU and there are ``world_size``.
    """
    if int(args.world_size) == 1 and int(args.n_gpu) > 1:
        args._n_gpu = 1  # what transformers itself does for model-parallel models
    return int(args.world_size) * max(1, int(args.n_gpu))


def float32_trainable(model: Any) -> int:
    """Casts trainable (LoRA) weights to float32; returns how many were cast.

    TRL casts a 4-bit model's LoRA weights to bf16; at a 2.5e-5 learning rate Adam's updates
    of ``lora_A`` fall below bf16's resolution and the adapter barely trains. The frozen base
    keeps its dtype; bf16/fp16 autocast still runs the matmuls in half precision.
    """
    import torch

    cast = 0
    for param in model.parameters():
        if param.requires_grad and param.dtype != torch.float32:
            param.data = param.data.float()
            cast += 1
    return cast


def _sft_config(session: Session) -> Any:
    from trl import SFTConfig

    r = session.request.recipe
    args = SFTConfig(
        output_dir=str(session.request.out / CHECKPOINTS),
        num_train_epochs=r.epochs,
        max_steps=r.max_steps or -1,
        per_device_train_batch_size=r.batch_size,
        per_device_eval_batch_size=max(r.batch_size, 8),
        gradient_accumulation_steps=r.grad_accum,
        learning_rate=r.lr,
        warmup_steps=0,  # set below, once the data-parallel size is known
        # warmup_stable_decay is ours (`HarnessSFTTrainer.create_scheduler`), not transformers'.
        lr_scheduler_type="constant" if r.lr_scheduler == "warmup_stable_decay" else r.lr_scheduler,
        weight_decay=r.weight_decay,
        max_grad_norm=r.max_grad_norm,
        bf16=session.dtype == "bf16",
        fp16=session.dtype == "fp16",
        use_cpu=session.device == "cpu",
        eval_strategy="steps",
        eval_steps=r.validation.every_steps,
        save_strategy="steps",
        save_steps=r.validation.every_steps,
        save_total_limit=r.save_total_limit,
        load_best_model_at_end=True,
        metric_for_best_model="eval_loss",
        greater_is_better=False,
        logging_steps=r.logging_steps,
        report_to="none",
        disable_tqdm=True,
        seed=r.seed,
        max_length=None,  # `encode` already truncated
        completion_only_loss=True,
        padding_free=r.padding_free,
        train_sampling_strategy="group_by_length" if r.group_by_length else "random",
        include_num_input_tokens_seen="non_padding",
        # Under FSDP the activations are checkpointed by FSDP itself (`strategy_args`).
        gradient_checkpointing=r.checkpointing and r.distributed.strategy != "fsdp",
        gradient_checkpointing_kwargs={"use_reentrant": False} if r.checkpointing else None,
        optim=r.optimizer,
        dataset_num_proc=None,
        **strategy_args(r),
    )
    session.devices = one_device(args)
    args.warmup_steps = warmup_steps(r, planned_steps(r, len(session.train_rows), session.devices))
    return args


def fit(session: Session) -> None:
    """Trains with SFTTrainer; evaluates, checkpoints, stops early and resumes as configured."""
    from datasets import Dataset
    from transformers import EarlyStoppingCallback
    from transformers.trainer_callback import PrinterCallback
    from transformers.trainer_utils import get_last_checkpoint

    request, recipe = session.request, session.request.recipe
    args = _sft_config(session)
    budget = make_budget(recipe, len(session.train_rows), session.devices)
    steps = budget.planned_steps
    callbacks: list[Any] = [ProgressPrinter(budget), TimeLimit(budget)]
    if recipe.validation.early_stopping_patience:
        callbacks.append(EarlyStoppingCallback(recipe.validation.early_stopping_patience))
    stage(f"building the trainer ({recipe.method}, data collation)")
    session.trainer = trainer_class()(
        model=session.model,
        args=args,
        train_dataset=Dataset.from_list(session.train_rows),
        eval_dataset=Dataset.from_list(session.eval_rows),
        processing_class=session.tokenizer,
        peft_config=_lora_config(recipe),
        callbacks=callbacks,
    )
    check_engaged(recipe, session.trainer)
    float32_trainable(session.trainer.model)
    if recipe.lr_scheduler == "warmup_stable_decay":
        session.trainer.wsd = (budget, warmup_steps(recipe, steps), recipe.decay_ratio)
    # Our ProgressPrinter replaces the stock one, which prints raw log dicts.
    session.trainer.remove_callback(PrinterCallback)
    ckpt_dir = request.out / CHECKPOINTS
    last = get_last_checkpoint(str(ckpt_dir)) if request.resume and ckpt_dir.is_dir() else None
    session.resumed_from = Path(last).name if last else None
    if last:
        print(f"harness: resuming from {last}", flush=True)
    session.started = time.time()
    session.trainer.train(resume_from_checkpoint=last)


# ---------------------------------------------------------------- save


def save(session: Session) -> None:
    """Writes the adapter (or, for ``method: full``, the model), its manifest and loss curve,
    and registers an adapter by folder name."""
    out, trainer, recipe = session.request.out, session.trainer, session.request.recipe
    # The recipe's strategy, or one from the user's own `accelerate config`.
    if settings(session.device, recipe)["strategy"] in ("fsdp", "deepspeed"):
        trainer.save_model(str(out))  # every rank: gathers the sharded weights; rank 0 writes
    elif is_main_process():  # one writer: rank 0 (DDP keeps every copy in sync)
        trainer.model.save_pretrained(str(out))
    if not is_main_process():
        return
    if recipe.special_tokens or recipe.method == "full":
        session.tokenizer.save_pretrained(str(out))  # a full model folder loads on its own
    history = loss_history(trainer.state.log_history)
    manifest = build_manifest(
        session,
        loss_history=history,
        tokens_seen=int(trainer.state.num_input_tokens_seen or 0),
        wall_time_s=time.time() - session.started,
        best_checkpoint=Path(trainer.state.best_model_checkpoint).name
        if trainer.state.best_model_checkpoint
        else None,
        best_eval_loss=trainer.state.best_metric,
        steps=trainer.state.global_step,
    )
    write_manifest(out, manifest)
    plot_loss(history, out / "loss_curve.png", title=f"{out.name} on {session.base.id}")
    if recipe.method != "full":  # a full model is evaluated with --model FOLDER
        register_adapter(out.name, out)


# ---------------------------------------------------------------- cleanup


def cleanup(session: Session) -> None:
    """Drops intermediate checkpoints once the adapter is saved, and frees memory."""
    out = session.request.out
    if is_main_process() and (out / "adapter_manifest.json").is_file():
        shutil.rmtree(out / CHECKPOINTS, ignore_errors=True)
    session.trainer = None
    session.model = None
    gc.collect()
