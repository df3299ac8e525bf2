"""The multiple-choice standards end to end on the scripted fake backend: ARC-Challenge on all
1,172 real test items, every other task on its fixture files (published schemas), the request
shapes (plain text, partial scoring), the metrics each reports, and the errors a user meets."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest

from harness import DataError, DataOptions, HarnessError, Output, Sample, get_task, run_eval
from harness.backends.fake import FakeBackend
from harness.metrics.choice_mass import TrueMass, true_mass

FIXTURES = Path(__file__).parent / "fixtures" / "mc"
SUBJECTS = "abstract_algebra,high_school_geography"


def _fake(tmp: Path, script: str = "loglikelihood: {per_token: -1.0}\n") -> FakeBackend:
    path = tmp / "script.yaml"
    path.write_text(script, encoding="utf-8")
    return FakeBackend(model=str(path), chat_template=True)  # the tasks must still send text


def _argmax(values: list[float]) -> int:
    return max(range(len(values)), key=lambda i: (values[i], -i))


def test_arc_challenge_runs_all_1172_test_items(data_dir: Path, tmp_path: Path) -> None:
    backend = _fake(tmp_path)
    (res,) = run_eval("arc_challenge", backend=backend, data=DataOptions(data_dir=data_dir))
    # The fake scores a continuation -1 per word: recompute both metrics from the raw file.
    right = right_norm = n = 0
    for line in (data_dir / "arc" / "ARC-Challenge-Test.jsonl").read_text().splitlines():
        row = json.loads(line)
        texts = [c["text"] for c in row["question"]["choices"]]
        gold = [c["label"] for c in row["question"]["choices"]].index(row["answerKey"])
        lps = [-float(max(1, len((" " + t).split()))) for t in texts]
        right += _argmax(lps) == gold
        right_norm += _argmax([lp / len(t) for lp, t in zip(lps, texts, strict=True)]) == gold
        n += 1
    m = res.record.metrics
    assert n == 1172 and m["acc"].n == 1172 and m["acc_norm"].n == 1172
    assert m["acc"].value == pytest.approx(right / n) and m["acc_norm"].value == pytest.approx(
        right_norm / n
    )
    assert (right, right_norm) == (242, 317)
    assert (
        res.record.model.chat_template is False
    )  # lm-eval's plain text, whatever the backend says
    first = backend.calls[0]
    assert first.prompt.startswith("Question: An astronomer observes") and first.prompt.endswith(
        "\nAnswer:"
    )
    assert len(backend.calls) == sum(len(s.choices or []) for s in _arc_samples(data_dir))


def _arc_samples(data_dir: Path) -> list[Sample]:
    return get_task("arc_challenge").load(DataOptions(data_dir=data_dir)).samples


def test_arc_handles_numeric_and_five_choice_items(data_dir: Path) -> None:
    samples = _arc_samples(data_dir)
    numeric = [s for s in samples if s.metadata["labels"][0] == "1"]
    five = [s for s in samples if len(s.choices or []) == 5]
    assert numeric and five
    assert all(s.metadata["labels"][s.target] in "1234ABCDE" for s in numeric + five)


CASES: list[tuple[str, dict[str, Any], set[str], int]] = [
    ("mmlu", {"subjects": SUBJECTS}, {"acc"}, 5),
    ("hellaswag", {}, {"acc", "acc_norm"}, 4),
    ("truthfulqa_mc1", {}, {"acc"}, 3),
    ("truthfulqa_mc2", {}, {"mc2"}, 3),
    ("winogrande", {}, {"acc"}, 4),
]


@pytest.mark.parametrize(("name", "params", "metrics", "n"), CASES)
def test_each_task_runs_offline_on_its_fixtures(
    name: str, params: dict[str, Any], metrics: set[str], n: int, tmp_path: Path
) -> None:
    (res,) = run_eval(
        name, backend=_fake(tmp_path), task_params=params, data=DataOptions(data_dir=FIXTURES)
    )
    overall = {k for k in res.record.metrics if "@" not in k and not k.endswith("_macro")}
    assert overall == metrics
    assert all(res.record.metrics[k].n == n for k in metrics)
    if name == "mmlu":  # per subject (METRIC@CATEGORY) and lm-eval's macro average
        per = {k: m.n for k, m in res.record.metrics.items() if k.startswith("acc@")}
        assert sum(per.values()) == n and "acc_macro" in res.record.metrics
    assert all(0.0 <= res.record.metrics[k].value <= 1.0 for k in metrics)
    assert res.record.counts.errors == 0 and res.record.dataset.source == "local"


def test_winogrande_scores_the_rest_of_the_sentence_after_each_option(tmp_path: Path) -> None:
    script = """\
loglikelihood:
  per_token: -1.0
  answers:
    - {prompt: "Sarah was a much better surgeon than Maria so Maria", logprob: -0.5}
"""
    backend = _fake(tmp_path, script)
    (res,) = run_eval("winogrande", backend=backend, data=DataOptions(data_dir=FIXTURES, limit=2))
    calls = [(c.prompt, c.continuation) for c in backend.calls]
    assert calls == [
        ("Sarah was a much better surgeon than Maria so Sarah", " always got the harder cases."),
        ("Sarah was a much better surgeon than Maria so Maria", " always got the harder cases."),
        ("Sarah was a much better surgeon than Maria so Sarah", " always got the easier cases."),
        ("Sarah was a much better surgeon than Maria so Maria", " always got the easier cases."),
    ]
    # Maria made both rests likelier: wrong on the first item (answer 1), right on the second.
    assert [s.scores["choice_accuracy"].values["acc"] for s in res.samples] == [0.0, 1.0]
    assert [s.scores["choice_accuracy"].answer for s in res.samples] == ["Maria", "Maria"]


def test_mmlu_items_carry_their_subject_as_category() -> None:
    task = get_task("mmlu", subjects=SUBJECTS)
    assert task.categories == "subject"
    samples = task.load(DataOptions(data_dir=FIXTURES)).samples
    assert [s.metadata["subject"] for s in samples] == ["abstract_algebra"] * 3 + [
        "high_school_geography"
    ] * 2
    assert {s.metadata["group"] for s in samples} == {"stem", "social_sciences"}
    assert samples[0].prompt.text.startswith(
        "The following are multiple choice questions (with answers) about abstract algebra.\n\n"
        "Find the order of the element 2 in the additive group Z_6.\nA. 2\nB. 3\nC. 6\nD. 1\n"
        "Answer: B\n\n"
    )
    zero = get_task("mmlu", subjects="abstract_algebra", num_fewshot=0)
    text = zero.load(DataOptions(data_dir=FIXTURES)).samples[2].prompt.text
    assert text.endswith(
        "about abstract algebra.\n\nWhat is the order of the group Z_2 x Z_3?\n"
        "A. 2\nB. 3\nC. 5\nD. 6\nAnswer:"
    )  # the question stripped


def test_mmlu_asks_for_all_57_subjects_by_default(tmp_path: Path) -> None:
    from tasks.mmlu import SUBJECTS as ALL

    assert len(ALL) == 57
    with pytest.raises(DataError, match=r"mmlu: 55 subject file\(s\) missing.*-T subjects="):
        get_task("mmlu").load(DataOptions(data_dir=FIXTURES))
    with pytest.raises(HarnessError, match=r"unknown subject.*algebra"):
        get_task("mmlu", subjects="algebra")
    with pytest.raises(HarnessError, match="num_fewshot must be 0-5"):
        get_task("mmlu", num_fewshot=6)


def test_truthfulqa_mc_file_missing_says_where(data_dir: Path) -> None:
    # ../shared/datasets/truthfulqa holds the generation table only, not mc_task.json
    with pytest.raises(DataError, match=r"truthfulqa lacks mc_task\.json"):
        get_task("truthfulqa_mc2").load(DataOptions(data_dir=data_dir))


def test_bad_rows_name_the_item(tmp_path: Path) -> None:
    (tmp_path / "winogrande").mkdir()
    row = {"sentence": "No blank here.", "option1": "a", "option2": "b", "answer": "1"}
    (tmp_path / "winogrande" / "dev.jsonl").write_text(json.dumps(row) + "\n")
    with pytest.raises(DataError, match="winogrande item 0: needs a '_' blank"):
        get_task("winogrande").load(DataOptions(data_dir=tmp_path))
    (tmp_path / "mmlu" / "test").mkdir(parents=True)
    (tmp_path / "mmlu" / "dev").mkdir()
    (tmp_path / "mmlu" / "test" / "anatomy_test.csv").write_text("q,a,b,c,d,E\n")
    (tmp_path / "mmlu" / "dev" / "anatomy_dev.csv").write_text("")
    with pytest.raises(DataError, match=r"anatomy_test\.csv:1: expected question, four choices"):
        get_task("mmlu", subjects="anatomy").load(DataOptions(data_dir=tmp_path))


def test_mc2_is_the_normalised_mass_on_the_true_answers() -> None:
    sample = Sample("q", None, target=[0, 2], choices=[" a", " b", " c"])  # type: ignore[arg-type]
    lps = [math.log(0.2), math.log(0.5), math.log(0.1)]
    score = TrueMass()(sample, Output(choice_logprobs=lps))
    assert score.values["mc2"] == pytest.approx(0.3 / 0.8)
    # Far below exp's range lm-eval's exp/sum is 0/0; the log-sum-exp form is still exact.
    assert true_mass([-2000.0, -2001.0], [0]) == pytest.approx(1 / (1 + math.exp(-1)))
    agg = TrueMass().aggregate([score, score], [sample, sample])["mc2"]
    assert 0.0 <= agg.ci_low <= agg.value <= agg.ci_high <= 1.0
