"""Throughput of `harness run` on gsm8k with the HF backend: items/s and tokens/s.

    python bench/throughput.py --limit 20 [--batch-size 16] [--no-chat-template]

No cache is used, so every item is generated. Prints one line per figure.
"""

from __future__ import annotations

import argparse
import os
import time


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--limit", type=int, default=20)
    ap.add_argument("--batch-size", type=int, default=None)
    ap.add_argument("--model", default=None)
    ap.add_argument("--num-fewshot", type=int, default=5)
    ap.add_argument("--no-chat-template", action="store_true")
    args = ap.parse_args()

    from harness import DataOptions, RunContext, evaluate, get_task
    from harness.backends.hf import HFBackend

    backend = HFBackend(
        args.model,
        chat_template=False if args.no_chat_template else None,
        batch_size=args.batch_size,
    )
    task = get_task("gsm8k", num_fewshot=args.num_fewshot)
    t0 = time.perf_counter()
    data = DataOptions(limit=args.limit)
    (result,) = evaluate(task, backend, data=data, context=RunContext(runs_dir=None))
    wall = time.perf_counter() - t0
    r = result.record
    print(f"items            {r.counts.samples}")
    print(f"batch_size       {backend.batch_size}")
    print(f"threads/cores    {os.cpu_count()}")
    print(f"wall_s           {wall:.1f}")
    print(f"items_per_s      {r.counts.samples / wall:.3f}")
    print(f"tokens_out       {r.timing.tokens_out}")
    print(f"tokens_per_s     {r.timing.tokens_per_s}")
    print(f"flexible_match   {r.metrics['flexible_match'].value:.3f}")


if __name__ == "__main__":
    from harness import settings_from_env, use_settings

    use_settings(settings_from_env())  # a bench script is an edge, like the command line
    main()
