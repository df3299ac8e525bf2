"""IFEval: 541 prompts whose verifiable instructions the answer must follow (Zhou et al. 2023).

A raw record (``ifeval/input_data.jsonl``, google-research's file; hub ``google/IFEval``)::

    {"key": 1001, "prompt": "I am planning a trip to Japan, ... You are not allowed to use any
     commas in your response.", "instruction_id_list": ["punctuation:no_comma"], "kwargs": [{}]}

The prompt is one user turn (run with the chat template on, as lm-eval does), generated greedily
with no stop sequence and up to 1,280 new tokens (lm-eval's ``ifeval.yaml``). Each listed
instruction is checked on the answer by the maintained IFEval checkers of ``if-verifiable``
(google-research's code; the same 25 checks lm-eval ships), strictly and loosely (loose: also
with the first and/or last line dropped and ``*`` removed), giving lm-eval's four metrics:
``prompt_level_{strict,loose}_acc`` (all of a prompt's instructions followed) and
``inst_level_{strict,loose}_acc`` (the share of all instructions followed). The category of a
prompt is the group of each of its instructions (``punctuation``, ``length_constraints`` ...):
``METRIC@GROUP`` counts only that group's instructions, on the prompts that have one.

Word and sentence counts use NLTK's ``punkt_tab`` data, which nltk would download at first use;
here it is found (never downloaded) in ``-T nltk_data=DIR``, ``$NLTK_DATA``, ``nltk_data/`` of
the data dir, or nltk's own search path. Online users get it with
``python -m nltk.downloader punkt_tab``.
"""

from __future__ import annotations

import contextlib
import os
import random
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from harness import (
    DataError,
    DataOptions,
    Dataset,
    DatasetInfo,
    GenerationParams,
    Message,
    Output,
    Prompt,
    Sample,
    Score,
    Scorer,
    Task,
    dataset_dir,
    load_hub,
    read_jsonl,
    scorer,
    task,
)
from tasks._ifeval_metrics import aggregate_ifeval, inst_statistics

HUB_ID = "google/IFEval"
FILE = "input_data.jsonl"
GROUPS_KEY = "instruction_groups"
METRICS = (
    "prompt_level_strict_acc",
    "inst_level_strict_acc",
    "prompt_level_loose_acc",
    "inst_level_loose_acc",
)


def ensure_punkt(extra: Sequence[str | Path] = ()) -> None:
    """Makes nltk find ``punkt_tab`` offline: adds ``extra``, ``$NLTK_DATA`` and the data
    dir's ``nltk_data/`` to its search path, then checks it is found.

    Raises:
        DataError: Nowhere holds ``tokenizers/punkt_tab``; the message says how to get it.
    """
    import nltk

    root = DataOptions().resolved_data_dir()  # $HARNESS_DATA_DIR
    dirs = [
        *map(str, extra),
        os.environ.get("NLTK_DATA", ""),
        str(root / "nltk_data") if root else "",
    ]
    for d in dirs:
        if d and Path(d).is_dir() and d not in nltk.data.path:
            nltk.data.path.insert(0, d)
    try:
        nltk.data.find("tokenizers/punkt_tab/english")
    except LookupError:
        raise DataError(
            "IFEval's checks need NLTK's punkt_tab data, which is not installed: pass "
            "-T nltk_data=DIR or set NLTK_DATA=DIR (a folder holding tokenizers/punkt_tab), "
            "or get it online with `python -m nltk.downloader punkt_tab`"
        ) from None


def follows(
    instruction_ids: Sequence[str],
    kwargs: Sequence[dict[str, Any]],
    prompt: str,
    response: str,
    loose: bool,
) -> list[bool]:
    """Whether ``response`` follows each instruction (lm-eval's ``test_instruction_following_
    strict`` / ``_loose``: empty answers follow nothing; loose tries eight variants)."""
    from if_verifiable.common import get_loose_transformations
    from if_verifiable.ifeval.instructions_registry import INSTRUCTION_DICT

    variants = get_loose_transformations(response) if loose else [response]
    out = []
    for iid, kw in zip(instruction_ids, kwargs, strict=True):
        checker = INSTRUCTION_DICT[iid](iid)
        checker.build_description(**{k: v for k, v in kw.items() if v})
        args = checker.get_instruction_args()
        if args and "prompt" in args:
            checker.build_description(prompt=prompt)
        out.append(any(r.strip() and checker.check_following(r) for r in variants))
    return out


@contextlib.contextmanager
def seeded_random(seed: int = 0) -> Iterator[None]:
    """Python's `random` seeded for one prompt's checks, its state restored afterwards.

    A checker given an unusable argument draws a random one (item 1122 names ``#`` as the
    letter to count, so the letter checker picks a random letter): seeded, such an item gets
    the same verdict on every run (lm-eval does not seed; the parity bench seeds it alike).
    """
    state = random.getstate()
    random.seed(seed)
    try:
        yield
    finally:
        random.setstate(state)


def group_of(instruction_id: str) -> str:
    """``punctuation`` for ``punctuation:no_comma``."""
    return instruction_id.split(":")[0]


@scorer("ifeval", metrics=METRICS)
class IFEvalScorer(Scorer):
    """Checks every instruction of a prompt on the answer, strictly and loosely."""

    reports_categories = True  # METRIC@GROUP counts only that group's instructions

    def __call__(self, sample: Sample, output: Output) -> Score:
        import langdetect

        langdetect.DetectorFactory.seed = 0  # language checks give the same verdict every run
        meta = sample.metadata
        ids, kwargs = list(meta["instruction_id_list"]), list(meta["kwargs"])
        response = output.texts[0] if output.texts else ""
        with seeded_random():
            strict = follows(ids, kwargs, meta["prompt"], response, loose=False)
            loose = follows(ids, kwargs, meta["prompt"], response, loose=True)
        values: dict[str, float | None] = {
            "prompt_level_strict_acc": float(all(strict)),
            "prompt_level_loose_acc": float(all(loose)),
        }
        for g in dict.fromkeys(map(group_of, ids)):
            mine = [k for k, i in enumerate(ids) if group_of(i) == g]
            values[f"prompt_level_strict_acc@{g}"] = float(all(strict[k] for k in mine))
            values[f"prompt_level_loose_acc@{g}"] = float(all(loose[k] for k in mine))
        return Score(values, metadata={"instructions": ids, "strict": strict, "loose": loose})

    def score_all(self, samples: Any, outputs: Any, ctx: Any = None) -> list[Score]:
        import logging

        ensure_punkt()
        before = logging.root.manager.disable
        logging.disable(logging.ERROR)  # the checkers log every undetectable language as an error
        try:
            return super().score_all(samples, outputs, ctx)
        finally:
            logging.disable(before)

    def aggregate(self, scores: Any, samples: Any) -> Any:
        return aggregate_ifeval(scores)

    def corpus_statistics(self, scores: Any, samples: Any) -> Any:
        return inst_statistics(scores)


def _rows(options: DataOptions) -> tuple[list[dict[str, Any]], DatasetInfo]:
    folder = dataset_dir(options, "ifeval", [FILE])
    if folder is None:
        rows, revision = load_hub(HUB_ID, "train")
        return rows, DatasetInfo("ifeval", "hub", HUB_ID, "train", revision, n_total=len(rows))
    path = folder / FILE
    required = ("key", "prompt", "instruction_id_list", "kwargs")
    rows = list(read_jsonl(path, required=required))
    return rows, DatasetInfo.local("ifeval", folder, "train", [path], len(rows))


def to_sample(row: dict[str, Any]) -> Sample:
    """One prompt as a single user turn, its instructions in the metadata."""
    from if_verifiable.ifeval.instructions_registry import INSTRUCTION_DICT

    ids = list(row["instruction_id_list"])
    unknown = [i for i in ids if i not in INSTRUCTION_DICT]
    if unknown or len(row["kwargs"]) != len(ids):
        raise DataError(
            f"ifeval item {row['key']}: unknown instruction {unknown} or kwargs not one per "
            "instruction; use google-research's input_data.jsonl (or the hub's google/IFEval)"
        )
    kwargs = [{k: v for k, v in kw.items() if v is not None} for kw in row["kwargs"]]
    meta = {
        "prompt": row["prompt"],
        "instruction_id_list": ids,
        "kwargs": kwargs,
        GROUPS_KEY: list(dict.fromkeys(map(group_of, ids))),
    }
    prompt = Prompt(messages=(Message("user", row["prompt"]),), text=row["prompt"])
    return Sample(id=str(row["key"]), prompt=prompt, target=None, metadata=meta)


@task(description="IFEval verifiable instructions (lm-eval's strict/loose prompt/inst accuracy)")
def ifeval(nltk_data: str | None = None) -> Task:
    """IFEval instruction following."""

    def load(options: DataOptions) -> Dataset:
        root = options.resolved_data_dir()
        ensure_punkt([d for d in (nltk_data, root and root / "nltk_data") if d])
        rows, info = _rows(options)
        return Dataset([to_sample(r) for r in rows], info)

    return Task(
        name="ifeval",
        version="1",
        description="IFEval instruction following",
        load=load,
        primary_metrics=("prompt_level_strict_acc", "inst_level_strict_acc"),
        scorers=[IFEvalScorer()],
        generation=GenerationParams(max_new_tokens=1280, temperature=0.0),
        prompt_template="{prompt}",
        categories=GROUPS_KEY,
    )
