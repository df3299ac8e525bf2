"""User-defined YAML tasks: strict validation with every problem in one message, the shipped
examples on the real data, log-likelihood classification, and `harness run --task file.yaml`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from harness import DataError, DataOptions, HarnessError, Output, get_task, load_dataset

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples" / "tasks"


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "task.yaml"
    path.write_text(text)
    return path


def test_every_problem_reported_at_once(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        """
name: bad name!
colour: blue
dataset:
  path: data.txt
prompt:
  template: "{question"
extraction: {regex: "(unclosed"}
metrics:
  - rogue
  - {name: bleu, args: {nonsense: 1}}
generation: {max_new_tokens: 0}
""",
    )
    with pytest.raises(HarnessError) as info:
        get_task(str(path))
    msg = str(info.value)
    assert "\n" not in msg
    expected = [
        "name: String should match pattern",
        "colour: Extra inputs are not permitted",
        "must end in .jsonl, .csv or .json",
        "generation.max_new_tokens: Input should be greater than 0",
        "prompt.template: ",
        "extraction.regex: not a valid regular expression",
        "metrics[0]: unknown scorer 'rogue'. Did you mean 'rouge'?",
        "metrics[1] (bleu): BLEU.__init__() got an unexpected keyword argument 'nonsense'",
    ]
    for part in expected:
        assert part in msg, part
    assert msg.startswith(f"{path}: {len(expected)} problems: ")


def test_yaml_syntax_error_names_line(tmp_path: Path) -> None:
    path = _write(tmp_path, "name: x\ndataset: [unclosed\nprompt: {}\n")
    with pytest.raises(HarnessError, match=r"task\.yaml:\d+: not valid YAML"):
        get_task(str(path))


def test_examples_build_on_real_data(data_dir: Path) -> None:
    gsm = get_task(str(EXAMPLES / "gsm8k_regex.yaml"))
    ds = load_dataset(gsm, DataOptions(data_dir=data_dir, limit=3))
    assert [s.target for s in ds.samples] == ["18", "3", "70000"]
    assert "{" not in ds.samples[0].prompt.text and "Janet" in ds.samples[0].prompt.text
    scores = gsm.scorers[0].score_all(
        ds.samples,
        [
            Output(texts=["16 - 3 - 4 = 9, 9 * 2 = 18."]),
            Output(texts=["It takes 4 bolts"]),
            Output(texts=[""]),
        ],
    )
    assert [s.values["exact_match"] for s in scores] == [1.0, 0.0, 0.0]
    assert gsm.params["sha256"] and gsm.scorers[0].spec()["args"]["extraction"]["select"] == "last"

    dlg = get_task(str(EXAMPLES / "dialogsum_fewshot.yaml"))
    ds = load_dataset(dlg, DataOptions(data_dir=data_dir, limit=2, seed=7))
    s = ds.samples[0]
    assert s.id == "test_0" and len(s.target) == 3
    assert [m.role for m in s.prompt.messages] == ["system", "user", "assistant", "user"]
    assert s.prompt.text.count("Summary:") == 2
    assert set(ds.info.files) == {"dialogsum.test.jsonl", "dialogsum.dev.jsonl"}
    zero = get_task(str(EXAMPLES / "dialogsum_fewshot.yaml"), num_fewshot=0)
    assert (
        load_dataset(zero, DataOptions(data_dir=data_dir, limit=1))
        .samples[0]
        .prompt.text.count("Summary:")
        == 1
    )
    with pytest.raises(HarnessError, match="no -T parameters"):
        get_task(str(EXAMPLES / "dialogsum_fewshot.yaml"), colour="blue")
    other = load_dataset(dlg, DataOptions(data_dir=data_dir, limit=1, seed=8)).samples[0]
    assert other.prompt.text != s.prompt.text  # exemplar drawn with the run's seed


def test_missing_data_dir_and_column(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.delenv("HARNESS_DATA_DIR", raising=False)
    with pytest.raises(DataError, match="--data-dir"):
        load_dataset(get_task(str(EXAMPLES / "gsm8k_regex.yaml")), DataOptions())
    (tmp_path / "d.jsonl").write_text('{"q": "hi", "a": "x"}\n{"a": "y"}\n')
    path = _write(
        tmp_path,
        "name: t\ndataset: {path: d.jsonl, target: a}\n"
        "prompt: {template: '{q}'}\nmetrics: [exact_match]\n",
    )
    with pytest.raises(DataError, match=r"d\.jsonl row 2: \{q\}: q: no such column \(a\)"):
        load_dataset(get_task(str(path)), DataOptions())


def test_loglikelihood_classification_from_yaml(tmp_path: Path) -> None:
    rows = [{"text": "I love it", "label": "positive"}, {"text": "awful", "label": "negative"}]
    (tmp_path / "d.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    path = _write(
        tmp_path,
        """
name: mini_sentiment
mode: loglikelihood
dataset: {path: d.jsonl, target: label}
prompt: {template: "Review: {text}\\nSentiment:"}
extraction: {choices: [negative, positive]}
metrics: [classification]
""",
    )
    task = get_task(str(path))
    ds = load_dataset(task, DataOptions())
    assert task.mode == "loglikelihood" and ds.samples[0].choices == [" negative", " positive"]
    scorer = task.scorers[0]
    assert scorer.labels == ["negative", "positive"]
    scores = scorer.score_all(
        ds.samples, [Output(choice_logprobs=[-3.0, -1.0]), Output(choice_logprobs=[-1.0, -2.0])]
    )
    assert scorer.aggregate(scores, ds.samples)["accuracy"].value == 1.0


def test_loglikelihood_needs_choices(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        "name: t\nmode: loglikelihood\ndataset: {path: d.jsonl, target: a}\n"
        "prompt: {template: x}\nmetrics: [classification]\n",
    )
    with pytest.raises(
        HarnessError, match=r"extraction\.choices or dataset\.choices: required in loglikelihood"
    ):
        get_task(str(path))


@pytest.mark.slow
def test_harness_run_with_yaml_task(tmp_path: Path, data_dir: Path) -> None:
    from harness.cli import cli
    from harness.record import read_run

    args = [
        "run",
        "--task",
        str(EXAMPLES / "dialogsum_fewshot.yaml"),
        "--limit",
        "1",
        "--max-new-tokens",
        "8",
        "--data-dir",
        str(data_dir),
        "-o",
        str(tmp_path / "runs"),
        "--no-cache",
        "--json",
    ]
    res = CliRunner().invoke(cli, args, catch_exceptions=False)
    assert res.exit_code == 0, res.stderr
    record = read_run(Path(json.loads(res.stdout)[0]["folder"]))
    assert record.task.name == "dialogsum_fewshot" and record.counts.samples == 1
    assert {"rouge1", "rougeL", "bleu", "chrf"} <= set(record.metrics)
    assert record.extra["chrf_signature"].startswith("chrF2++|nrefs:3")


def test_relative_data_dir_means_working_directory(
    data_dir: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # CI passes HARNESS_DATA_DIR=../shared/datasets; it must not be read relative to the YAML file.
    monkeypatch.chdir(data_dir.resolve().parent)
    gsm = get_task(str(EXAMPLES.resolve() / "gsm8k_regex.yaml"))
    ds = load_dataset(gsm, DataOptions(data_dir=Path(data_dir.resolve().name), limit=1))
    assert ds.samples[0].target == "18"
    monkeypatch.setenv("HARNESS_DATA_DIR", data_dir.resolve().name)
    assert load_dataset(gsm, DataOptions(limit=1)).samples[0].target == "18"


# Hand-set log-probabilities for the eight items of examples/data/multiple_choice.jsonl, and by
# hand which choice wins (gold in brackets). acc takes the largest sum; acc_norm the largest sum
# divided by the choice's byte length; ties go to the first choice.
MC_LOGPROBS = {
    "Red Planet": [-4.0, -3.0, -6.0, -5.0],  # [1] acc: Mars ✓; norm -.8 -.75 -.857 -.714: Mercury ✗
    "boiling point": [-5.0, -5.4, -8.0, -9.0],  # [1] acc: 90 ✗; norm -.5 -.491 ...: 100 ✓
    "mammal": [-2.0, -1.0, -3.0, -4.0],  # [1] acc ✓; norm -.4 -.143 -.6 -.571 ✓
    "bees": [-3.0, -2.5, -4.0, -4.5],  # [0] acc: silk ✗; norm -.6 -.625 -1 -.5: wax paper ✗
    "photosynthesis": [-3.0, -5.0, -6.0, -7.0],  # [2] acc: oxygen ✗; norm -.5 -.625 -.429: ✓
    "hexagon": [-2.0, -1.5, -2.5, -3.0],  # [1] acc: six ✓; norm -.5 -.5 -.5 -.6: tie, five ✗
    "primary colour": [-1.0, -2.0, -3.0, -4.0],  # [0] acc ✓; norm -.2 ... ✓
    "frozen water": [-2.0, -1.5, -3.0, -3.5],  # [1] acc: ice ✓; norm -.4 -.5 -1 -1.17: steam ✗
}
MC_ACC = 5 / 8  # items 1, 3, 6, 7, 8
MC_ACC_NORM = 4 / 8  # items 2, 3, 5, 7


def test_multiple_choice_example_matches_a_hand_computation(tmp_path: Path) -> None:
    from harness.cli import cli
    from harness.record import read_run, read_samples

    rows = [
        json.loads(line)
        for line in (ROOT / "examples/data/multiple_choice.jsonl").read_text().splitlines()
    ]
    rules = []
    for row in rows:
        key = next(k for k in MC_LOGPROBS if k in row["question"])
        for choice, lp in zip(row["choices"], MC_LOGPROBS[key], strict=True):
            rules.append({"contains": key, "continuation": " " + choice, "logprob": lp})
    script = tmp_path / "mc.yaml"
    script.write_text(json.dumps({"loglikelihood": {"per_token": -99.0, "answers": rules}}))
    args = ["run", "--task", str(EXAMPLES / "multiple_choice.yaml"), "--backend", "fake"]
    args += ["--model", str(script), "-o", str(tmp_path / "runs"), "--no-cache", "--json"]
    res = CliRunner().invoke(cli, args, catch_exceptions=False)
    assert res.exit_code == 0, res.stderr
    folder = Path(json.loads(res.stdout)[0]["folder"])
    record = read_run(folder)
    assert record.metrics["acc"].value == pytest.approx(MC_ACC)
    assert record.metrics["acc_norm"].value == pytest.approx(MC_ACC_NORM)
    assert record.metrics["acc"].n == 8
    first = read_samples(folder)[0]
    assert first.choice_logprobs == [-4.0, -3.0, -6.0, -5.0]
    assert first.scores["choice_accuracy"].metadata == {"gold": 1, "pick": 1, "pick_norm": 3}


def test_nested_fields_optional_target_and_metadata(tmp_path: Path) -> None:
    rows = [
        {"id": 7, "turns": ["Hi?", "And?"], "meta": {"ref": "hello", "cat": "greet"}},
        {"id": 8, "turns": ["Why?"], "meta": {"cat": "ask"}},
    ]
    (tmp_path / "d.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    path = _write(
        tmp_path,
        """
name: nested
dataset:
  path: d.jsonl
  id: id
  target: meta.ref
  optional_target: true
  metadata: {category: meta.cat}
prompt: {system: "Be brief.", template: "Q: {turns[0]}"}
metrics: [exact_match]
""",
    )
    ds = load_dataset(get_task(str(path)), DataOptions())
    a, b = ds.samples
    assert (a.id, a.target, a.metadata) == ("7", "hello", {"category": "greet"})
    assert (b.id, b.target, b.metadata) == ("8", None, {"category": "ask"})
    assert [m.role for m in a.prompt.messages] == ["system", "user"]
    assert a.prompt.messages[1].content == "Q: Hi?" and a.prompt.text == "Be brief.\n\nQ: Hi?"


def test_categories_names_a_metadata_key(tmp_path: Path) -> None:
    (tmp_path / "d.jsonl").write_text('{"q": "a", "cat": "x"}\n')
    body = """
name: cats
dataset: {path: d.jsonl, target: q, metadata: {subject: cat}}
prompt: {template: "{q}"}
metrics: [exact_match]
categories: %s
"""
    assert get_task(str(_write(tmp_path, body % "subject"))).categories == "subject"
    with pytest.raises(HarnessError, match=r"categories: 'cat' is not a dataset.metadata key"):
        get_task(str(_write(tmp_path, body % "cat")))


def test_placeholder_typo_is_reported_at_load_time_with_the_other_problems(
    tmp_path: Path,
) -> None:
    from harness.cli import cli

    (tmp_path / "d.jsonl").write_text('{"problem": "2+2", "answer": "4"}\n')
    path = _write(
        tmp_path,
        "name: t\ndataset: {path: d.jsonl, target: answr, metadata: {c: meta.x}}\n"
        "prompt: {template: 'Solve: {problme}'}\nmetrics: [exact_match, judge_scroe]\n",
    )
    with pytest.raises(HarnessError) as info:
        get_task(str(path))
    msg = str(info.value)
    assert msg.startswith(f"{path}: 4 problems: ")
    assert "Valid scorers: " in msg and "judge, judge_pairwise" in msg
    assert "prompt.template: {problme} is not in d.jsonl (problme: no such column" in msg
    assert "(problem, answer))" in msg
    assert "dataset.target: answr is not in d.jsonl" in msg
    assert "dataset.metadata.c: meta.x is not in d.jsonl (meta: no such column" in msg
    args = ["run", "--task", str(path), "--backend", "fake", "--model", "x.yaml"]
    res = CliRunner().invoke(cli, args)
    assert res.exit_code == 2 and res.stderr.count("\n") == 1
    assert "{problme} is not in d.jsonl" in res.stderr


def test_multi_turn_feeds_the_models_own_answer_back(tmp_path: Path) -> None:
    from harness import run_eval
    from harness._context import RunContext

    rows = [{"id": "a", "turns": ["Name a colour.", "Why that one?"]}]
    (tmp_path / "d.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    path = _write(
        tmp_path,
        "name: two_turn\ndataset: {path: d.jsonl, id: id}\n"
        "prompt: {turns: ['{turns[0]}', '{turns[1]}']}\nmetrics: [exact_match]\n",
    )
    script = tmp_path / "s.yaml"
    script.write_text(
        "answers:\n  - contains: 'Why that one?'\n    text: 'Because the sky is blue.'\n"
        "  - contains: 'Name a colour.'\n    text: 'Blue.'\n"
    )
    (result,) = run_eval(
        str(path),
        backend="fake",
        backend_options={"model": str(script), "chat_template": True},
        context=RunContext(runs_dir=tmp_path / "runs"),
    )
    (s,) = result.samples
    assert s.outputs == ["Because the sky is blue."]
    assert s.turn_outputs == [["Blue.", "Because the sky is blue."]]
    assert result.record.counts.requests == 1 and result.record.status == "complete"
