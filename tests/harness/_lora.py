"""Test helper: a real PEFT LoRA adapter on the bundled model, made in seconds.

With ``random_b`` the LoRA B matrices get non-zero random values, so the adapter really
changes the model's outputs; without it they keep PEFT's zero init, so the adapter is a no-op
(what ``harness parity`` must flag as "adapter had no effect").
"""

from __future__ import annotations

import json
from pathlib import Path


def make_lora(
    model_dir: Path,
    out: Path,
    *,
    random_b: bool = True,
    rank: int = 8,
    targets: tuple[str, ...] = ("q_proj", "v_proj"),
    base_sha256: str | None = None,
    seed: int = 0,
    scale: float = 0.05,
) -> Path:
    """Writes an adapter folder at ``out`` and returns it.

    Args:
        model_dir: The base model folder.
        out: Adapter folder to create.
        random_b: Fill LoRA B with N(0, scale) (else zeros: no effect).
        rank: LoRA rank.
        targets: Modules to patch.
        base_sha256: If given, written to ``adapter_manifest.json`` as the base weight hash.
        seed: Random seed for the weights.
        scale: Standard deviation of the random B weights.
    """
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    torch.manual_seed(seed)
    model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32)
    cfg = LoraConfig(r=rank, lora_alpha=2 * rank, target_modules=list(targets), lora_dropout=0.0)
    peft_model = get_peft_model(model, cfg)
    if random_b:
        with torch.no_grad():
            for name, p in peft_model.named_parameters():
                if "lora_B" in name:
                    p.normal_(0.0, scale)
    peft_model.save_pretrained(out)
    if base_sha256:
        manifest = {"base_model": {"path": str(model_dir), "weight_sha256": base_sha256}}
        (out / "adapter_manifest.json").write_text(json.dumps(manifest))
    return out
