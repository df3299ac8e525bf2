"""The multiple-choice standards against lm-eval 0.4.13 itself: its task YAMLs, read by its own
loader, build the requests for the same documents (our fixtures, or ARC's real rows, turned
into each hub dataset's schema), and those must equal ours byte for byte; its scoring of the
same log-likelihoods must equal our metrics."""

from __future__ import annotations

import csv
import json
import random
from pathlib import Path
from typing import Any

import pytest

from harness import DataOptions, Output, get_task, load_dataset
from harness._runner import choice_requests

lm_eval = pytest.importorskip("lm_eval", reason="lm-eval==0.4.13 is the reference here")

FIXTURES = Path(__file__).parent / "fixtures" / "mc"
SUBJECTS = ("abstract_algebra", "high_school_geography")


def _arc_docs(data_dir: Path) -> list[dict[str, Any]]:
    lines = (data_dir / "arc" / "ARC-Challenge-Test.jsonl").read_text(encoding="utf-8")
    docs = []
    for line in lines.splitlines()[:40]:
        r = json.loads(line)
        ch = r["question"]["choices"]
        docs.append(
            {
                "id": r["id"],
                "question": r["question"]["stem"],
                "choices": {"text": [c["text"] for c in ch], "label": [c["label"] for c in ch]},
                "answerKey": r["answerKey"],
            }
        )
    return docs


def _mmlu_docs(subject: str, split: str) -> list[dict[str, Any]]:
    path = FIXTURES / "mmlu" / split / f"{subject}_{split}.csv"
    with open(path, encoding="utf-8", newline="") as f:
        rows = list(csv.reader(f))
    return [
        {"question": r[0], "subject": subject, "choices": r[1:5], "answer": "ABCD".index(r[5])}
        for r in rows
    ]


def _jsonl(path: Path) -> list[dict[str, Any]]:
    return [json.loads(x) for x in path.read_text(encoding="utf-8").splitlines() if x]


def _hellaswag_docs() -> list[dict[str, Any]]:
    rows = _jsonl(FIXTURES / "hellaswag" / "hellaswag_val.jsonl")
    return [{**r, "label": str(r["label"])} for r in rows]  # the hub keeps labels as strings


def _truthfulqa_docs() -> list[dict[str, Any]]:
    raw = json.loads((FIXTURES / "truthfulqa" / "mc_task.json").read_text(encoding="utf-8"))
    as_lists = {
        k: (lambda d: {"choices": list(d), "labels": list(d.values())})
        for k in ("mc1_targets", "mc2_targets")
    }
    return [{"question": r["question"], **{k: f(r[k]) for k, f in as_lists.items()}} for r in raw]


def _lm_eval_task(yaml_rel: str, splits: dict[str, list[dict[str, Any]]], tmp: Path) -> Any:
    """lm-eval's task from its own YAML, reading ``splits`` from local JSONL files."""
    from lm_eval.api.task import ConfigurableTask
    from lm_eval.tasks._yaml_loader import load_yaml

    files = {}
    for split, docs in splits.items():
        files[split] = str(tmp / f"{split}.jsonl")
        Path(files[split]).write_text("".join(json.dumps(d) + "\n" for d in docs))
    cfg = load_yaml(Path(lm_eval.__file__).parent / "tasks" / yaml_rel, resolve_func=True)
    cfg.update(
        dataset_path="json",
        dataset_name=None,
        dataset_kwargs={"data_files": files, "cache_dir": str(tmp / "hf")},
    )
    for key in ("training_split", "validation_split", "test_split", "fewshot_split"):
        if cfg.get(key) not in (None, *files):
            cfg[key] = None
    return ConfigurableTask(config=cfg)


def _their_requests(task: Any, num_fewshot: int) -> list[list[tuple[str, str]]]:
    docs = task.test_docs() if task.has_test_docs() else task.validation_docs()
    out = []
    for i, doc in enumerate(docs):
        ctx = task.fewshot_context(doc, num_fewshot)
        out.append([r.args for r in task.construct_requests(doc, ctx, metadata=("t", i, 1))])
    return out


def _ours(name: str, data_dir: Path, **params: Any) -> list[Any]:
    return load_dataset(get_task(name, **params), DataOptions(data_dir=data_dir)).samples


def _our_requests(samples: list[Any]) -> list[list[tuple[str, str]]]:
    return [
        [(r.context, r.continuation) for r in choice_requests(s, s.prompt.text)] for s in samples
    ]


CASES = ["arc_challenge", "mmlu", "hellaswag", "truthfulqa_mc1", "truthfulqa_mc2", "winogrande"]


def _pair(name: str, data_dir: Path, tmp: Path) -> tuple[Any, list[Any], int]:
    """lm-eval's task, our samples (same documents, same order), and the shot count."""
    if name == "arc_challenge":
        docs = _arc_docs(data_dir)
        return (
            _lm_eval_task("arc/arc_challenge.yaml", {"test": docs}, tmp),
            _ours(name, data_dir)[: len(docs)],
            0,
        )
    if name == "mmlu":
        # one subject per lm-eval task; ours runs both subjects in name order
        raise AssertionError("mmlu is paired per subject")
    if name == "hellaswag":
        task = _lm_eval_task("hellaswag/hellaswag.yaml", {"validation": _hellaswag_docs()}, tmp)
        return task, _ours(name, FIXTURES), 0
    if name.startswith("truthfulqa"):
        task = _lm_eval_task(f"truthfulqa/{name}.yaml", {"validation": _truthfulqa_docs()}, tmp)
        return task, _ours(name, FIXTURES), 0
    docs = _jsonl(FIXTURES / "winogrande" / "dev.jsonl")
    return (
        _lm_eval_task("winogrande/default.yaml", {"validation": docs}, tmp),
        _ours(name, FIXTURES),
        0,
    )


@pytest.mark.parametrize("name", [c for c in CASES if c != "mmlu"])
def test_requests_equal_lm_eval(name: str, data_dir: Path, tmp_path: Path) -> None:
    task, samples, shots = _pair(name, data_dir, tmp_path)
    theirs = _their_requests(task, shots)
    assert len(theirs) == len(samples) > 0
    assert _our_requests(samples) == theirs


@pytest.mark.parametrize("subject", SUBJECTS)
def test_mmlu_five_shot_prompt_equals_lm_eval(subject: str, tmp_path: Path) -> None:
    splits = {"test": _mmlu_docs(subject, "test"), "dev": _mmlu_docs(subject, "dev")}
    task = _lm_eval_task(f"mmlu/default/mmlu_{subject}.yaml", splits, tmp_path)
    ours = [s for s in _ours("mmlu", FIXTURES, subjects=list(SUBJECTS)) if s.id.startswith(subject)]
    theirs = _their_requests(task, 5)
    assert theirs[0][0][0].count("\nAnswer: ") == 5  # five exemplars, answered
    assert _our_requests(ours) == theirs
    assert [s.metadata["subject"] for s in ours] == [subject] * len(ours)


def _their_scores(task: Any, lls: list[list[float]]) -> list[dict[str, float]]:
    docs = task.test_docs() if task.has_test_docs() else task.validation_docs()
    return [
        task.process_results(doc, [(x, False) for x in ll])
        for doc, ll in zip(docs, lls, strict=True)
    ]


@pytest.mark.parametrize("name", [c for c in CASES if c != "mmlu"])
def test_metrics_equal_lm_eval_on_the_same_loglikelihoods(
    name: str, data_dir: Path, tmp_path: Path
) -> None:
    task, samples, _ = _pair(name, data_dir, tmp_path)
    rng = random.Random(7)
    lls = [[rng.uniform(-60.0, -1.0) for _ in s.choices] for s in samples]
    theirs = _their_scores(task, lls)
    scorer = get_task(name).scorers[0]
    ours = [scorer(s, Output(choice_logprobs=ll)) for s, ll in zip(samples, lls, strict=True)]
    for mine, ref in zip(ours, theirs, strict=True):
        if name == "truthfulqa_mc2":  # lm-eval names the true-answer mass `acc`
            assert mine.values["mc2"] == pytest.approx(ref["acc"], abs=1e-12)
        else:
            assert set(mine.values) == set(ref) & {"acc", "acc_norm"}
            for key, value in mine.values.items():
                assert value == ref[key], (key, mine, ref)


def test_acc_norm_equals_lm_eval_on_non_ascii_choices(tmp_path: Path) -> None:
    """lm-eval divides by ``len(choice)`` (characters): on choices whose UTF-8 byte length
    differs, bytes pick another answer. ``norm="bytes"`` is the explicit byte variant."""
    from harness import Sample
    from harness.metrics.choice import ChoiceAccuracy

    texts = ["éééééé", "abcdefg", "naïve café", "日本語"]
    lls = [[-7.0, -8.0, -11.0, -5.0], [-6.0, -8.0, -11.5, -3.9], [-7.0, -7.5, -10.5, -9.0]]
    docs = [
        {
            "id": f"q{i}",
            "question": f"Which one, {i}?",
            "choices": {"text": texts, "label": list("ABCD")},
            "answerKey": "ABCD"[i % 4],
        }
        for i in range(len(lls))
    ]
    task = _lm_eval_task("arc/arc_challenge.yaml", {"test": docs}, tmp_path)
    theirs = _their_scores(task, lls)
    chars, nbytes = ChoiceAccuracy(), ChoiceAccuracy(norm="bytes")
    differ = 0
    for doc, ll, ref in zip(docs, lls, theirs, strict=True):
        sample = Sample(id=doc["id"], prompt="q", target=doc["answerKey"], choices=texts)
        sample.target = "ABCD".index(doc["answerKey"])
        mine = chars(sample, Output(choice_logprobs=ll))
        assert mine.values == {"acc": ref["acc"], "acc_norm": ref["acc_norm"]}
        as_bytes = nbytes(sample, Output(choice_logprobs=ll))
        assert set(as_bytes.values) == {"acc", "acc_norm_bytes"}
        differ += as_bytes.metadata["pick_norm"] != mine.metadata["pick_norm"]
    assert differ > 0  # the byte variant really is another number
