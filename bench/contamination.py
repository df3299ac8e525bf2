"""Benchmark: `harness.contamination.check_items`, 100,000 training rows against 10,000 items.

Usage (from the repository root)::

    python bench/contamination.py [--train 100000] [--test 10000] [--planted 10]

Synthetic text: words drawn from a Zipf-like vocabulary of 20,000 words; training rows of
an instruction (20-80 words) and an output (10-60 words); test items of 25-80 words (GSM8K
questions average about 45); so the two sides are disjoint. ``--planted`` test items are then
copied into training rows, half exactly, half lightly edited (case and punctuation changed,
one word replaced, one dropped). Prints the wall and CPU seconds of one check, the process's
peak memory (max RSS, the synthetic data included), the machine (CPU model, ISA flags, cores,
load average before and after: the machine may be shared), the recall on the planted items
and the flags among the disjoint ones (false flags). Goals: <= 60 s and <= 2 GB on a 2-core
CPU, 10/10 planted found, 0 false flags.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import resource
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def vocabulary(size: int, rng: random.Random) -> list[str]:
    letters = "abcdefghijklmnopqrstuvwxyz"
    return ["".join(rng.choices(letters, k=rng.randint(3, 9))) for _ in range(size)]


def sentence(vocab: list[str], weights: list[float], n: int, rng: random.Random) -> str:
    return " ".join(rng.choices(vocab, weights, k=n)).capitalize() + "."


def edit(text: str, vocab: list[str], rng: random.Random) -> str:
    """Light edits: upper case, commas, one word replaced and one dropped."""
    toks = text.rstrip(".").split()
    toks[rng.randrange(len(toks))] = rng.choice(vocab)
    del toks[rng.randrange(len(toks))]
    toks[len(toks) // 3] += ","
    return " ".join(toks).upper() + "!"


def machine() -> dict[str, object]:
    model, flags = platform.processor(), ""
    try:
        info = Path("/proc/cpuinfo").read_text()
        model = next(ln.split(":", 1)[1].strip() for ln in info.splitlines() if "model name" in ln)
        flag_line = next(ln for ln in info.splitlines() if ln.startswith("flags"))
        have = set(flag_line.split(":", 1)[1].split())
        flags = " ".join(f for f in ("sse4_2", "avx", "avx2", "avx512f", "amx_tile") if f in have)
    except (OSError, StopIteration):
        pass
    return {
        "cpu": model,
        "isa": flags,
        "cores": os.cpu_count(),
        "load_average": [round(x, 2) for x in os.getloadavg()],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--train", type=int, default=100_000)
    parser.add_argument("--test", type=int, default=10_000)
    parser.add_argument("--planted", type=int, default=10)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    from harness.contamination import Settings, check_items

    rng = random.Random(args.seed)
    vocab = vocabulary(20_000, rng)
    weights = [1 / (k + 10) for k in range(len(vocab))]
    items = [
        (f"test-{i}", sentence(vocab, weights, rng.randint(25, 80), rng)) for i in range(args.test)
    ]
    rows = [
        {
            "instruction": sentence(vocab, weights, rng.randint(20, 80), rng),
            "output": sentence(vocab, weights, rng.randint(10, 60), rng),
        }
        for _ in range(args.train)
    ]
    planted = rng.sample(range(args.test), args.planted)
    for k, i in enumerate(planted):
        text = items[i][1] if k % 2 == 0 else edit(items[i][1], vocab, rng)
        rows[rng.randrange(args.train)]["instruction"] = text
    docs = ((f"train.jsonl:{n}", t) for n, r in enumerate(rows, 1) for t in r.values())
    before = machine()
    t0, c0 = time.perf_counter(), time.process_time()
    check = check_items(items, docs, Settings())
    seconds, cpu = time.perf_counter() - t0, time.process_time() - c0
    flagged = set(check.flagged)
    wanted = {items[i][0] for i in planted}
    by_id = {r.id: r for r in check.items}
    out = {
        "train_rows": args.train,
        "test_items": args.test,
        "seconds": round(seconds, 2),
        "cpu_seconds": round(cpu, 2),
        "max_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "recall": f"{len(flagged & wanted)}/{len(wanted)}",
        "recall_exact": sum(by_id[items[i][0]].contaminated for i in planted[0::2]),
        "recall_edited": sum(by_id[items[i][0]].contaminated for i in planted[1::2]),
        "found_by_ngram": sum(by_id[w].ngram for w in wanted),
        "found_by_near_duplicate": sum(by_id[w].near_duplicate for w in wanted),
        "false_flags": len(flagged - wanted),
        "machine_before": before,
        "load_average_after": [round(x, 2) for x in os.getloadavg()],
    }
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    from harness import settings_from_env, use_settings

    use_settings(settings_from_env())  # a bench script is an edge, like the command line
    main()
