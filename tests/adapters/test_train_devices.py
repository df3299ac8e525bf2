"""The trainer on GPUs, checked on CPU: one device per process, steps counted from the real
per-step batch, LoRA weights kept in float32, bf16 only where the GPU has it natively."""

from __future__ import annotations

from typing import Any

import pytest
import torch

from adapters.recipe import load_recipe
from adapters.train import (
    float32_trainable,
    make_budget,
    one_device,
    pick_device,
    planned_steps,
    warmup_steps,
)
from harness._errors import HarnessError
from tests._tiny_llama import tiny_llama


class Args:
    """The two TrainingArguments properties `one_device` reads."""

    def __init__(self, world_size: int, n_gpu: int) -> None:
        self.world_size, self._n_gpu = world_size, n_gpu

    @property
    def n_gpu(self) -> int:
        return self._n_gpu


def test_one_process_trains_on_one_gpu() -> None:
    four_gpus = Args(world_size=1, n_gpu=4)  # what the HF Trainer sees with 4 GPUs visible
    assert one_device(four_gpus) == 1 and four_gpus.n_gpu == 1  # no nn.DataParallel
    assert one_device(Args(world_size=4, n_gpu=1)) == 4  # torchrun/accelerate: 4 processes
    assert one_device(Args(world_size=1, n_gpu=0)) == 1  # CPU


def test_real_sft_config_on_cpu_is_one_device(tmp_path: Any) -> None:
    from trl import SFTConfig

    args = SFTConfig(output_dir=str(tmp_path), use_cpu=True, report_to="none")
    assert one_device(args) == 1 and args.n_gpu == 0


def test_steps_count_the_examples_of_every_device() -> None:
    overrides = [
        "batch_size=4",
        "grad_accum=2",
        "epochs=1",
        "warmup_ratio=0.12",
        "warmup_steps=null",
    ]
    r = load_recipe("cpu", overrides)
    assert planned_steps(r, 800) == 100
    assert planned_steps(r, 800, devices=4) == 25  # 4 × 8 examples per optimiser step
    assert warmup_steps(r, planned_steps(r, 800, devices=4)) == 3  # not 12: warm-up lands early


def test_schedule_budget_counts_the_world_size() -> None:
    """N processes (each `batch_size` per step) take N x the examples per optimiser step, so the
    warmup-stable-decay budget, its warm-up and the ETA plan 1/N of the steps."""
    from adapters.schedule import wsd_factor

    r = load_recipe(
        "cpu", ["batch_size=4", "epochs=1", "max_minutes=null", "warmup_steps=null",
                "warmup_ratio=0.1", "lr_scheduler=warmup_stable_decay", "decay_ratio=0.5"]
    )  # fmt: skip
    devices = one_device(Args(world_size=2, n_gpu=1))  # what accelerate's 2 processes report
    one, two = make_budget(r, 800, 1), make_budget(r, 800, devices)
    assert (one.planned_steps, two.planned_steps) == (200, 100)
    assert warmup_steps(r, two.planned_steps) == 10
    # Halfway through the 2-process run's 100 steps the decay starts; by 1-process steps it
    # would still be at the peak: the schedule would never reach 0 before training ends.
    assert wsd_factor(75, two.progress(75), 10, 0.5) == pytest.approx(0.5)
    assert wsd_factor(75, one.progress(75), 10, 0.5) == 1.0
    assert two.progress(100) == 1.0


def test_lora_weights_stay_float32_under_a_half_precision_base() -> None:
    from peft import LoraConfig, get_peft_model

    base = tiny_llama(num_hidden_layers=1).to(torch.bfloat16)
    lora = LoraConfig(r=4, target_modules=["q_proj", "v_proj"], task_type="CAUSAL_LM")
    # What TRL does to a 4-bit model: the LoRA weights in bf16.
    model = get_peft_model(base, lora, autocast_adapter_dtype=False)
    trainable = [p for p in model.parameters() if p.requires_grad]
    assert trainable and all(p.dtype == torch.bfloat16 for p in trainable)
    assert float32_trainable(model) == len(trainable)
    assert all(p.dtype == torch.float32 for p in model.parameters() if p.requires_grad)
    assert all(p.dtype == torch.bfloat16 for p in model.parameters() if not p.requires_grad)
    x = torch.tensor([[1, 2, 3]])
    with torch.autocast("cpu", dtype=torch.bfloat16):
        model(input_ids=x, labels=x).loss.backward()  # the mixed model still trains
    assert all(p.grad is not None for p in model.parameters() if p.requires_grad)


@pytest.mark.parametrize(("capability", "precision"), [((8, 0), "bf16"), ((7, 5), "fp16")])
def test_precision_is_bf16_only_where_native(
    monkeypatch: pytest.MonkeyPatch, capability: tuple[int, int], precision: str
) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: True)
    monkeypatch.setattr(torch.cuda, "get_device_capability", lambda i=0: capability)
    assert pick_device(load_recipe("cpu")) == ("cuda", precision)


def test_bitsandbytes_optimisers_need_a_gpu() -> None:
    with pytest.raises(HarnessError, match=r"optim paged_adamw_8bit .* needs a CUDA GPU"):
        pick_device(load_recipe("cpu", ["optim=paged_adamw_8bit"]))
