"""Training throughput: ``harness train`` vs a plain transformers + peft loop.

Both train the same LoRA (the CPU recipe's shape) on the same ViGGO items with the same batch
size, learning rate and number of steps, starting from the bundled model in fp32. Throughput
is real (non-padding) tokens per second of training, excluding model loading. Prints both and
their ratio (harness / plain; the target is >= 1.0).

    python bench/train.py --items 96 --steps 12
"""

from __future__ import annotations

import argparse
import random
import tempfile
import time
from pathlib import Path
from typing import Any


def plain_loop(
    rows: list[dict[str, list[int]]], model_path: Path, args: argparse.Namespace, pad_id: int
) -> tuple[int, float]:
    """A textbook loop: shuffled batches, right padding, AdamW; returns (tokens, seconds)."""
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM, get_constant_schedule_with_warmup

    torch.manual_seed(0)
    base = AutoModelForCausalLM.from_pretrained(model_path, dtype=torch.float32)
    model = get_peft_model(
        base,
        LoraConfig(
            r=args.r,
            lora_alpha=2 * args.r,
            lora_dropout=0.0,
            target_modules="all-linear",
            task_type="CAUSAL_LM",
        ),
    )
    model.train()
    opt = torch.optim.AdamW(
        [p for p in model.parameters() if p.requires_grad], lr=args.lr, weight_decay=0.0
    )
    sched = get_constant_schedule_with_warmup(opt, 0)
    order = list(range(len(rows)))
    random.Random(0).shuffle(order)
    tokens, start = 0, time.perf_counter()
    for step in range(args.steps):
        batch = [rows[order[(step * args.batch + k) % len(rows)]] for k in range(args.batch)]
        width = max(len(r["input_ids"]) for r in batch)
        ids = torch.full((len(batch), width), pad_id)
        mask = torch.zeros_like(ids)
        labels = torch.full_like(ids, -100)
        for i, r in enumerate(batch):
            n = len(r["input_ids"])
            ids[i, :n] = torch.tensor(r["input_ids"])
            mask[i, :n] = 1
            labels[i, :n] = torch.tensor(
                [
                    t if m else -100
                    for t, m in zip(r["input_ids"], r["completion_mask"], strict=True)
                ]
            )
            tokens += n
        loss = model(input_ids=ids, attention_mask=mask, labels=labels).loss
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        sched.step()
        opt.zero_grad()
    return tokens, time.perf_counter() - start


def harness_run(args: argparse.Namespace, out: Path) -> tuple[int, float, Any]:
    from adapters.recipe import load_recipe
    from adapters.train import TrainRequest, fit, setup

    recipe = load_recipe(
        "cpu",
        [
            f"max_train_items={args.items}",
            f"max_steps={args.steps}",
            f"batch_size={args.batch}",
            f"lr={args.lr}",
            f"lora.r={args.r}",
            f"lora.alpha={2 * args.r}",
            "validation.max_items=1",
            f"validation.every_steps={args.steps}",
            "max_minutes=null",
            "lr_scheduler=constant_with_warmup",  # the schedule the figures in the note used
        ],
    )
    session = setup(TrainRequest(out=out, recipe=recipe, task="viggo", resume=False))
    start = time.perf_counter()
    fit(session)
    seconds = time.perf_counter() - start
    return int(session.trainer.state.num_input_tokens_seen), seconds, session


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--items", type=int, default=96)
    parser.add_argument("--steps", type=int, default=12)
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--lr", type=float, default=1.5e-3)
    parser.add_argument("--r", type=int, default=16)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        h_tokens, h_s, session = harness_run(args, Path(tmp) / "bench-adapter")
        rows, pad_id, path = session.train_rows, session.tokenizer.pad_token_id, session.base.path
        del session
    p_tokens, p_s = plain_loop(rows, path, args, pad_id)
    h_rate, p_rate = h_tokens / h_s, p_tokens / p_s
    print(f"items={args.items} steps={args.steps} batch={args.batch} r={args.r} fp32 cpu")
    print(f"harness train : {h_tokens} tokens in {h_s:.1f} s = {h_rate:.1f} tok/s (incl. one eval)")
    print(f"plain loop    : {p_tokens} tokens in {p_s:.1f} s = {p_rate:.1f} tok/s")
    print(f"ratio harness/plain = {h_rate / p_rate:.2f}")


if __name__ == "__main__":
    main()
