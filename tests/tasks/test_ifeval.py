"""IFEval on the real 541 prompts: loading, the checks' verdicts, lm-eval's four metrics (and
their per-group variants), offline punkt data, and a run through the CLI on the fake backend."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from harness import DataError, DataOptions, Output, RunContext, get_task, load_dataset, run_eval
from harness.runstore import compare_metric, load_runs
from tasks._ifeval_metrics import aggregate_ifeval
from tasks.ifeval import METRICS, IFEvalScorer, ensure_punkt, to_sample


@pytest.fixture(scope="module")
def rows(data_dir_module: Path) -> dict[str, dict]:
    path = data_dir_module / "ifeval" / "input_data.jsonl"
    return {str(r["key"]): r for r in map(json.loads, path.read_text().splitlines())}


@pytest.fixture(scope="module")
def data_dir_module() -> Path:
    import os

    return Path(os.environ["HARNESS_DATA_DIR"])


def _score(row: dict, text: str):
    return IFEvalScorer().score_all([to_sample(row)], [Output(texts=[text])])[0]


def test_loads_541_prompts_as_user_turns_with_their_groups(data_dir_module: Path) -> None:
    task = get_task("ifeval")
    ds = load_dataset(task, DataOptions(data_dir=data_dir_module))
    assert len(ds.samples) == 541 and task.categories == "instruction_groups"
    ids = {i for s in ds.samples for i in s.metadata["instruction_id_list"]}
    assert len(ids) == 25 and sum(len(s.metadata["kwargs"]) for s in ds.samples) == 834
    first = ds.samples[0]
    assert first.id == "1000" and [m.role for m in first.prompt.messages] == ["user"]
    assert first.metadata["instruction_groups"] == [
        "punctuation",
        "detectable_format",
        "length_constraints",
    ]
    assert task.generation.max_new_tokens == 1280 and task.generation.stop == ()


def test_strict_loose_and_group_restricted_verdicts(rows: dict) -> None:
    no_comma = rows["1001"]  # punctuation:no_comma only
    assert _score(no_comma, "Day one: Tokyo. Day two: Kyoto.").values[METRICS[0]] == 1.0
    assert _score(no_comma, "Day one, Tokyo.").values["prompt_level_strict_acc"] == 0.0
    loose = _score(no_comma, "Sure, here it is:\nDay one Tokyo\nDay two Kyoto")
    assert loose.values["prompt_level_strict_acc"] == 0.0  # the first line has a comma
    assert loose.values["prompt_level_loose_acc"] == 1.0  # loose drops the first line
    three = _score(rows["1000"], "Raymond was a count. He ruled Tripoli.")
    assert three.metadata["strict"] == [True, False, False]
    assert three.values["prompt_level_strict_acc"] == 0.0
    assert three.values["prompt_level_strict_acc@punctuation"] == 1.0  # its own instruction
    assert three.values["prompt_level_strict_acc@length_constraints"] == 0.0
    assert _score(no_comma, "").metadata["strict"] == [False]  # an empty answer follows nothing


def test_item_1122s_random_letter_is_seeded(rows: dict) -> None:
    text = "#tokyo #japan #travel #food a lowercase tweet"
    verdicts = {tuple(_score(rows["1122"], text).metadata["loose"]) for _ in range(5)}
    assert len(verdicts) == 1


def test_instruction_level_pools_instructions_not_prompt_means(rows: dict) -> None:
    one = _score(rows["1001"], "No commas here.")  # 1 of 1 followed
    three = _score(rows["1000"], "Short, with a comma.")  # 0 of 3 followed
    agg = aggregate_ifeval([one, three])
    assert agg["inst_level_strict_acc"].value == pytest.approx(1 / 4)  # not (1 + 0) / 2
    assert agg["inst_level_strict_acc"].n == 4 and agg["prompt_level_strict_acc"].n == 2
    assert agg["prompt_level_strict_acc"].value == 0.5
    assert agg["inst_level_strict_acc@punctuation"].value == pytest.approx(1 / 2)
    assert agg["inst_level_strict_acc@detectable_format"].n == 1
    lo, hi = agg["inst_level_strict_acc"].ci_low, agg["inst_level_strict_acc"].ci_high
    assert 0.0 <= lo <= 0.25 <= hi <= 1.0


def test_matches_lm_eval_on_sixty_prompts(rows: dict) -> None:
    utils = pytest.importorskip("lm_eval.tasks.ifeval.utils")
    from tasks.ifeval import seeded_random

    texts = ["", "a plain answer, with a comma.", "ALL CAPS ANSWER", '"quoted"', "* a\n* b"]
    for row in list(rows.values())[:60]:
        for text in texts:
            ours = _score(row, text)
            with seeded_random():
                theirs = utils.process_results(row, [text])
            assert ours.metadata["strict"] == theirs["inst_level_strict_acc"], row["key"]
            assert ours.metadata["loose"] == theirs["inst_level_loose_acc"], row["key"]


def test_punkt_is_found_offline_or_the_error_says_how(
    monkeypatch, tmp_path: Path, data_dir_module: Path
) -> None:
    import nltk

    monkeypatch.setattr(nltk.data, "path", [str(tmp_path)])
    monkeypatch.setenv("HARNESS_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("NLTK_DATA", raising=False)
    with pytest.raises(DataError, match=r"NLTK_DATA=DIR.*nltk\.downloader punkt_tab"):
        ensure_punkt()
    ensure_punkt([data_dir_module / "nltk_data"])  # the shipped copy, found with no download


def test_run_records_four_metrics_and_groups_and_compares_paired(tmp_path: Path) -> None:
    script = tmp_path / "script.yaml"
    script.write_text('default: "a short answer without commas"\n')
    for sub in ("a", "b"):
        run_eval(
            "ifeval",
            backend="fake",
            backend_options={"model": str(script)},
            data=DataOptions(limit=12),
            context=RunContext(runs_dir=tmp_path / sub),
        )
    (a,) = load_runs([tmp_path / "a"])
    (b,) = load_runs([tmp_path / "b"])
    m = a.record.metrics
    assert all(k in m for k in METRICS) and m["inst_level_strict_acc"].method == "bootstrap"
    assert m["prompt_level_strict_acc@punctuation"].value == 1.0
    assert "prompt_level_strict_acc_macro" not in m  # prompts have several groups
    rc = compare_metric(a, b, "inst_level_strict_acc@punctuation")
    assert rc is not None and rc.corpus and rc.result.delta == 0
    rc = compare_metric(a, b, "prompt_level_loose_acc@detectable_format")
    assert (
        rc is not None
        and not rc.corpus
        and rc.result.n
        == sum("detectable_format" in s.metadata["instruction_groups"] for s in a.samples)
    )
