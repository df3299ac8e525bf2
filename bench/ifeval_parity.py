"""harness's IFEval scoring vs lm-eval 0.4.13's, per prompt, on the same responses.

    pip install lm-eval==0.4.13 -c <(pip freeze)     # bench-only dependency, keep the pinned stack
    HARNESS_DATA_DIR=../shared/datasets harness run --task ifeval --limit 50 -o /tmp/ifeval-runs
    HARNESS_DATA_DIR=../shared/datasets python bench/ifeval_parity.py --run /tmp/ifeval-runs/<run>

Two sets of responses are scored by both implementations:

* the bundled model's answers stored in a harness ``ifeval`` run folder (``--run``): harness's
  *recorded* per-prompt scores and run.json metrics are compared with lm-eval's
  ``process_results`` and aggregations (``mean``, ``agg_inst_level_acc``) on the same text;
* a scripted set: every one of the 541 prompts with each of the responses in ``SCRIPTED``
  (plain, upper and lower case, quoted, JSON, bullets, sections, placeholders, postscripts,
  titles, repeats of the prompt, two answers, another language, paragraphs as asked ...),
  scored by harness's ``ifeval`` scorer and by lm-eval; the table after it shows every
  instruction id was checked, with both verdicts (each of the 25 passes and fails somewhere).

A prompt agrees when its strict and loose per-instruction verdict lists are identical (so both
prompt-level values are too); the four metrics are then compared exactly. Exit 1 on any
difference. Both are run with Python's ``random`` seeded (0) per prompt: one item (1122) makes
its checker draw a random letter, which unseeded gives lm-eval varying verdicts. NLTK's
punkt_tab data is found offline through ``$NLTK_DATA`` or the data dir's ``nltk_data/`` (never
downloaded); langdetect is seeded (0) for both.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections import Counter
from collections.abc import Mapping
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

FILLER = (
    "Tokyo is the capital of Japan. It is a large city with many people. The food is good "
    "and the trains run on time. Visitors enjoy the temples, the parks and the museums."
)
SCRIPTED = [
    "",
    FILLER,
    FILLER.upper(),
    FILLER.lower().replace(",", ""),
    f'"{FILLER}"',
    json.dumps({"answer": FILLER}),
    f"```json\n{json.dumps({'answer': FILLER})}\n```",
    "* one\n* two\n* three\n* four\n* five",
    "SECTION 1\nfirst part\nSECTION 2\nsecond part\nSECTION 3\nthird part",
    "<<A Title>>\n\n" + FILLER + "\n\n***\n\n" + FILLER + "\n\nP.S. I hope this helps.",
    "Dear [name], meet me at [address] on [date] at [time]. *Highlighted one*, *two*, *three*.",
    "My answer is yes.",
    "Tokio ist die Hauptstadt Japans. Die Stadt ist groß und das Essen ist gut.",
    FILLER + "\n******\n" + FILLER.lower(),
    FILLER + " Is there anything else I can help with?",
    " ".join(["word"] * 400) + ".",
    "{prompt}\n" + FILLER,
    "{paragraphs}",
    "Paragraph one is here.\n\nParagraph two starts with intro words.\n\nParagraph three.",
]


def paragraphs(row: dict[str, Any]) -> str:
    """Paragraphs split by blank lines as the prompt's paragraph instruction asks (the nth
    opening with its first word), else four plain ones."""
    want: dict[str, Any] = next(
        (
            kw
            for iid, kw in zip(row["instruction_id_list"], row["kwargs"], strict=True)
            if iid == "length_constraints:nth_paragraph_first_word"
        ),
        {},
    )
    n, nth, word = want.get("num_paragraphs", 4), want.get("nth_paragraph"), want.get("first_word")
    parts = [f"Paragraph {k + 1} says something short." for k in range(n)]
    if nth and word and nth <= n:
        parts[nth - 1] = f"{word.capitalize()} opens this paragraph."
    return "\n\n".join(parts)


def lm_eval_scores(row: dict[str, Any], response: str) -> dict[str, Any]:
    """lm-eval 0.4.13's ``process_results`` for one IFEval prompt and response."""
    from lm_eval.tasks.ifeval import utils

    from tasks.ifeval import seeded_random

    with seeded_random():  # as harness does: item 1122's letter checker draws a random letter
        return dict(utils.process_results(row, [response]))


def lm_eval_aggregate(per_prompt: list[dict[str, Any]]) -> dict[str, float]:
    """lm-eval's aggregations: mean of the prompt-level booleans, ``agg_inst_level_acc``."""
    from lm_eval.tasks.ifeval import utils

    out = {}
    for mode in ("strict", "loose"):
        p = [r[f"prompt_level_{mode}_acc"] for r in per_prompt]
        out[f"prompt_level_{mode}_acc"] = sum(p) / len(p)
        out[f"inst_level_{mode}_acc"] = utils.agg_inst_level_acc(
            [r[f"inst_level_{mode}_acc"] for r in per_prompt]
        )
    return out


def differs(ours: dict[str, Any], theirs: dict[str, Any]) -> bool:
    """Whether harness's verdicts (score metadata) differ from lm-eval's for one prompt."""
    return (
        list(ours["strict"]) != list(theirs["inst_level_strict_acc"])
        or list(ours["loose"]) != list(theirs["inst_level_loose_acc"])
        or bool(ours["prompt_strict"]) != bool(theirs["prompt_level_strict_acc"])
        or bool(ours["prompt_loose"]) != bool(theirs["prompt_level_loose_acc"])
    )


def _four(ours: Mapping[str, float | None], theirs: dict[str, float], label: str) -> bool:
    print(f"\n{label}")
    print(f"  {'metric':<26} {'harness':>10} {'lm-eval':>10}  equal")
    same = True
    for k, v in theirs.items():
        mine = ours[k]
        eq = mine == v
        same &= eq
        shown = f"{mine:>10.6f}" if mine is not None else f"{'none':>10}"
        print(f"  {k:<26} {shown} {v:>10.6f}  {'yes' if eq else 'NO'}")
    return same


def check_run(run: Path, rows: dict[str, dict[str, Any]]) -> bool:
    """The run's recorded per-prompt scores and metrics against lm-eval on its outputs."""
    from harness import read_run, read_samples

    record, samples = read_run(run), read_samples(run)
    lm, bad = [], []
    for s in samples:
        sc = s.scores["ifeval"]
        theirs = lm_eval_scores(rows[s.id], s.outputs[0] if s.outputs else "")
        lm.append(theirs)
        ours = {
            **sc.metadata,
            "prompt_strict": sc.values["prompt_level_strict_acc"],
            "prompt_loose": sc.values["prompt_level_loose_acc"],
        }
        if differs(ours, theirs):
            bad.append(s.id)
    print(
        f"bundled model's responses ({record.model.id}, run {record.run_id}): {len(samples)} "
        f"prompts, {len(samples) - len(bad)} agree per prompt, differ: {bad or 'none'}"
    )
    recorded = {k: record.metrics[k].value for k in lm_eval_aggregate(lm)}
    same = _four(recorded, lm_eval_aggregate(lm), "run.json metrics vs lm-eval on the same outputs")
    return same and not bad


def check_scripted(rows: dict[str, dict[str, Any]]) -> bool:
    """Every prompt with every scripted response, harness's scorer against lm-eval's."""
    from harness import Output
    from tasks._ifeval_metrics import aggregate_ifeval
    from tasks.ifeval import IFEvalScorer, to_sample

    scorer = IFEvalScorer()
    samples, outputs, lm = [], [], []
    for row in rows.values():
        for text in SCRIPTED:
            response = text.replace("{prompt}", row["prompt"])
            response = response.replace("{paragraphs}", paragraphs(row))
            samples.append(to_sample(row))
            outputs.append(Output(texts=[response]))
            lm.append(lm_eval_scores(row, response))
    scores = scorer.score_all(samples, outputs)
    bad = 0
    verdicts: dict[str, Counter[str]] = {}
    for sc, theirs in zip(scores, lm, strict=True):
        ours = {
            **sc.metadata,
            "prompt_strict": sc.values["prompt_level_strict_acc"],
            "prompt_loose": sc.values["prompt_level_loose_acc"],
        }
        bad += differs(ours, theirs)
        for iid, ok_s, ok_l in zip(
            sc.metadata["instructions"], sc.metadata["strict"], sc.metadata["loose"], strict=True
        ):
            c = verdicts.setdefault(iid, Counter())
            c["checks"] += 1
            c["strict_pass"] += ok_s
            c["loose_pass"] += ok_l
    print(
        f"\nscripted set: {len(rows)} prompts x {len(SCRIPTED)} responses = {len(scores)} "
        f"scored pairs, {len(scores) - bad} agree per prompt, {bad} differ"
    )
    print(f"  {'instruction id':<50} {'checks':>7} {'strict ok':>9} {'loose ok':>9}")
    for iid, c in sorted(verdicts.items()):
        print(f"  {iid:<50} {c['checks']:>7} {c['strict_pass']:>9} {c['loose_pass']:>9}")
    print(f"  {len(verdicts)} instruction ids covered")
    agg = {k: v.value for k, v in aggregate_ifeval(scores).items()}
    same = _four(agg, lm_eval_aggregate(lm), "scripted set: the four metrics")
    return same and bad == 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", type=Path, help="a harness ifeval run folder")
    parser.add_argument("--data-dir", type=Path, default=os.environ.get("HARNESS_DATA_DIR"))
    args = parser.parse_args()
    if args.data_dir is None:
        parser.error("pass --data-dir or set HARNESS_DATA_DIR (the folder holding ifeval/)")
    os.environ.setdefault("NLTK_DATA", str(Path(args.data_dir) / "nltk_data"))
    from tasks.ifeval import ensure_punkt

    ensure_punkt([Path(args.data_dir) / "nltk_data"])  # before lm-eval's import-time download
    import logging

    import langdetect

    langdetect.DetectorFactory.seed = 0
    logging.disable(logging.ERROR)  # both checkers log every undetectable language as an error
    path = Path(args.data_dir) / "ifeval" / "input_data.jsonl"
    rows = {str(r["key"]): r for r in map(json.loads, path.read_text().splitlines())}
    ok = check_run(args.run, rows) if args.run else True
    ok &= check_scripted(rows)
    print("\nPARITY: " + ("every prompt and all four metrics equal" if ok else "DIFFERENCES"))
    return 0 if ok else 1


if __name__ == "__main__":
    from harness import settings_from_env, use_settings

    use_settings(settings_from_env())  # a bench script is an edge, like the command line
    raise SystemExit(main())
