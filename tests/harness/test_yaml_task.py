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
    with pytest.raises(HarnessError, match=r"extraction\.choices or dataset\.choices: required in loglikelihood"):
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
