"""harness vs lm-evaluation-harness: same model, items and 5-shot prompt format on GSM8K.

    pip install lm-eval -c <(pip freeze)     # bench-only dependency, keep the pinned stack
    python bench/vs_lm_eval.py --limit 20

lm-eval runs with its hf backend and its defaults (batch size 1) on a local copy of the task
(its stock gsm8k task reads the hub, which is offline here): same `Question: …\\nAnswer:`
format, the same 5 exemplars (harness's seeded draw, given to lm-eval as its few-shot split
with the `first_n` sampler, so both send byte-identical prompts), the same stop sequences and
256 new tokens, no chat template. harness runs the same items with `--no-chat-template`.
Prints both wall times, the ratio, both accuracies and how many greedy outputs are identical.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

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


def run_lm_eval(
    model_dir: Path, data_dir: Path, limit: int
) -> tuple[float, dict[str, float], list[str]]:
    import lm_eval
    import torch
    from lm_eval.tasks import TaskManager

    device = "cuda" if torch.cuda.is_available() else "cpu"
    with tempfile.TemporaryDirectory() as tmp:
        fewshot_file = Path(tmp, "shots.jsonl")
        fewshot_file.write_text("".join(json.dumps(r) + "\n" for r in shots(data_dir)))
        Path(tmp, "gsm8k_local.yaml").write_text(
            TASK_YAML.format(train=fewshot_file, test=data_dir / "gsm8k" / "test.jsonl")
        )
        t0 = time.perf_counter()
        out = lm_eval.simple_evaluate(
            model="hf",
            model_args=f"pretrained={model_dir},dtype=float32",
            device=device,
            tasks=["gsm8k_local"],
            task_manager=TaskManager(include_path=tmp),
            limit=limit,
        )
        wall = time.perf_counter() - t0
    res = out["results"]["gsm8k_local"]
    by_doc = {s["doc_id"]: s for s in out["samples"]["gsm8k_local"]}
    texts = [by_doc[i]["resps"][0][0] for i in sorted(by_doc)]
    return (
        wall,
        {
            "strict": res["exact_match,strict-match"],
            "flexible": res["exact_match,flexible-extract"],
        },
        texts,
    )


def run_harness(limit: int) -> tuple[float, dict[str, float], int, list[str]]:
    from harness import DataOptions, evaluate, get_task
    from harness.backends.hf import HFBackend

    t0 = time.perf_counter()
    backend = HFBackend(chat_template=False)
    (res,) = evaluate(get_task("gsm8k"), backend, data=DataOptions(limit=limit), runs_dir=None)
    wall = time.perf_counter() - t0
    m = res.record.metrics
    return (
        wall,
        {"strict": m["strict_match"].value or 0.0, "flexible": m["flexible_match"].value or 0.0},
        int(backend.batch_size or 0),
        [s.outputs[0] for s in sorted(res.samples, key=lambda s: int(s.id.split("-")[-1]))],
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--limit", type=int, default=20)
    args = ap.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
    from harness import resolve_model

    data_dir = Path(os.environ.get("HARNESS_DATA_DIR", "../shared/datasets")).resolve()
    model_dir = resolve_model(None).path
    from harness import DataOptions, get_task
    from tasks.gsm8k import EXEMPLAR

    first = get_task("gsm8k").load(DataOptions(data_dir=data_dir, limit=1)).samples[0]
    prefix = "\n\n".join(EXEMPLAR.format(**s) for s in shots(data_dir))
    assert first.prompt.text.startswith(prefix), "lm-eval would not get harness's exemplars"
    h_wall, h_acc, bs, h_texts = run_harness(args.limit)
    print(f"harness wall_s {h_wall:.1f} (batch {bs}); lm-eval running...", flush=True)
    l_wall, l_acc, l_texts = run_lm_eval(model_dir, data_dir, args.limit)
    same = sum(a.strip() == b.strip() for a, b in zip(h_texts, l_texts, strict=True))
    print(f"items                 {args.limit}")
    print(f"harness wall_s        {h_wall:.1f}  (batch {bs}, model load included)")
    print(f"lm-eval wall_s        {l_wall:.1f}  (its defaults: batch 1)")
    print(f"speedup               {l_wall / h_wall:.2f}x")
    print(f"harness strict/flex   {h_acc['strict']:.3f} / {h_acc['flexible']:.3f}")
    print(f"lm-eval strict/flex   {l_acc['strict']:.3f} / {l_acc['flexible']:.3f}")
    print(f"identical outputs     {same}/{args.limit}")


if __name__ == "__main__":
    main()
