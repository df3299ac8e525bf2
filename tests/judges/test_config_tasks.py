"""Judge configuration from options and environment, task loading, injection suite, ragas
semantic similarity (embeddings only) computed with no network access."""

from __future__ import annotations

from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from harness import (
    DataError,
    DataOptions,
    HarnessError,
    Output,
    RunContext,
    get_task,
    load_dataset,
)
from harness.cli._judge_options import judge_options, run_judge
from judges.config import ENV_LOCAL, ENV_MODEL, JudgeConfig
from judges.injection import ATTACKS, CASES, injection_suite

ROOT = Path(__file__).resolve().parents[2]
JUDGE_ENV = (
    "HARNESS_JUDGE_MODEL",
    "HARNESS_JUDGE_BASE_URL",
    "HARNESS_JUDGE_API_KEY_ENV",
    "HARNESS_JUDGE_LOCAL",
    "HARNESS_JUDGE_FORMAT",
)


@pytest.fixture(autouse=True)
def clean_judge_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for k in JUDGE_ENV:
        monkeypatch.delenv(k, raising=False)


def _invoke(args: list[str]) -> tuple[int, str, JudgeConfig | None]:
    seen: dict[str, JudgeConfig | None] = {}

    @click.command()
    @judge_options
    def cmd(**kw: object) -> None:
        try:
            seen["config"] = run_judge(kw)
        except HarnessError as e:
            raise click.ClickException(str(e)) from None

    result = CliRunner().invoke(cmd, args)
    return result.exit_code, result.output, seen.get("config")


def test_cli_options_become_the_run_judge_and_touch_no_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import os

    before = dict(os.environ)
    code, _, cfg = _invoke(["--judge-model", "gpt-4o-mini", "--judge-api-key-env", "MY_KEY"])
    assert code == 0 and cfg is not None
    assert (cfg.model, cfg.base_url, cfg.api_key_env, cfg.local, cfg.structured) == (
        "gpt-4o-mini",
        None,
        "MY_KEY",
        False,
        "json_object",
    )
    code, _, cfg = _invoke(["--judge", "local"])
    assert code == 0 and cfg is not None and cfg.local and cfg.structured == "json_schema"
    args = ["--judge-base-url", "http://10.0.0.5:8000/v1", "--judge-format", "json_schema"]
    code, _, cfg = _invoke(args)
    assert code == 0 and cfg is not None and cfg.structured == "json_schema" and cfg.model is None
    assert dict(os.environ) == before  # nothing exported: settings travel in the run context
    monkeypatch.setenv(ENV_MODEL, "env-model")  # the variables are defaults at the CLI edge
    code, _, cfg = _invoke(["--judge-base-url", "http://10.0.0.5:8000/v1"])
    assert cfg is not None and (cfg.model, cfg.base_url) == ("env-model", "http://10.0.0.5:8000/v1")
    monkeypatch.setenv(ENV_LOCAL, "1")
    assert _invoke([])[2] == JudgeConfig(model="env-model", local=True)


def test_cli_option_errors_are_one_line() -> None:
    code, out, _ = _invoke(["--judge", "remote"])
    assert code == 1 and "the only value is 'local'" in out
    code, out, _ = _invoke(["--judge", "local", "--judge-base-url", "http://x/v1"])
    assert code == 1 and "not both" in out
    code, _, cfg = _invoke([])  # no judge option: nothing required until a task needs a judge
    assert code == 0 and cfg == JudgeConfig()


def test_task_params_override_the_run_judge() -> None:
    task = get_task("instruct", judge_model="param-model", ragas=False)
    judge = task.scorers[0]
    run_judge_cfg = JudgeConfig(model="run-model", base_url="http://127.0.0.1:9/v1")
    task.preflight(RunContext(judge=run_judge_cfg))
    assert judge.config.model == "param-model" and judge.config.base_url == "http://127.0.0.1:9/v1"
    spec = judge.spec()
    assert spec["name"] == "judge" and spec["args"]["template"] == "reference"
    assert spec["args"]["overrides"]["model"] == "param-model"
    assert len(spec["args"]["template_sha256"]) == 64
    assert "key" not in str(spec["args"]["judge"]).replace("api_key_env", "")


def test_instruct_without_judge_is_a_clear_error() -> None:
    task = get_task("instruct")  # building the task needs no judge; running it does
    with pytest.raises(HarnessError, match="--judge local"):
        task.preflight(RunContext())


def test_instruct_loads_the_example_file(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv(ENV_MODEL, "m")
    task = get_task("instruct")
    ds = load_dataset(task, DataOptions(limit=3))
    assert len(ds.samples) == 3 and ds.info.n_total == 10
    s = ds.samples[1]
    assert s.prompt.messages[0].content == s.metadata["question"]
    assert (
        s.metadata["question"].startswith("Convert the temperature")
        and "25 degrees" in s.metadata["question"]
    )
    assert "### Input:\n25 degrees Celsius" in s.prompt.text and s.target.startswith("25 degrees")
    assert [type(x).__name__ for x in task.scorers] == ["JudgeScorer", "RagasScorer"]
    ctx = load_dataset(task, DataOptions()).samples[8]
    assert ctx.metadata["contexts"][0].startswith("Marie Curie")
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"instruction": "x", "output": "y"}\n{"instruction": "no output"}\n')
    with pytest.raises(DataError, match=r"bad.jsonl:2: row lacks field\(s\) output"):
        load_dataset(get_task("instruct", path=str(bad)), DataOptions())


def test_writingbench_loads_rubrics_from_the_wheel(monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("inspect_evals", reason="pip install --no-deps inspect-evals")
    monkeypatch.setenv(ENV_MODEL, "m")
    task = get_task("writingbench", language="en")
    ds = load_dataset(task, DataOptions(limit=2))
    assert len(ds.samples) == 2 and ds.info.n_total == 1000 and ds.info.source == "package"
    s = ds.samples[0]
    assert s.metadata["question"].isascii() and len(s.metadata["checklist"]) >= 1
    from judges.rubric import criterion_text

    text = criterion_text(s.metadata["checklist"][0])
    assert "9-10:" in text and "1-2:" in text
    fields = task.scorers[0].field_sets(s, Output(texts=["An essay."]))
    assert len(fields) == len(s.metadata["checklist"]) and fields[0]["criterion"] == text


def test_injection_suite_pairs_every_attack_with_its_clean_twin() -> None:
    rows = injection_suite()
    assert len(rows) == len(CASES) * (1 + len(ATTACKS))
    clean = {s.id: o.text for s, o, a in rows if a == "clean"}
    for sample, output, attack in rows:
        if attack != "clean":
            assert output.text == clean[sample.id] + ATTACKS[attack]
    assert len(injection_suite(limit=2)) == 2 * (1 + len(ATTACKS))


def test_ragas_semantic_similarity_offline(no_network: list[object]) -> None:
    from harness import Message, Prompt, Sample
    from judges import RagasScorer

    scorer = RagasScorer(metrics=("semantic_similarity",))
    q = "What is the capital of France?"
    samples = [
        Sample(str(i), Prompt((Message("user", q),), q), "Paris is the capital of France.")
        for i in range(3)
    ]
    outputs = [
        Output(texts=["The capital of France is Paris."]),
        Output(texts=["I like turtles."]),
        Output(texts=[""]),
    ]
    scores = scorer.score_all(samples, outputs)
    assert no_network == []
    close, far, empty = (s.values.get("semantic_similarity") for s in scores)
    assert close is not None and far is not None and 0.7 < close <= 1.0 and far < close
    assert empty is None and scores[2].values["semantic_similarity_failed"] == 1.0
    metrics = scorer.aggregate(scores, samples)
    assert metrics["semantic_similarity"].n == 2
    assert metrics["semantic_similarity_failure_rate"].value == pytest.approx(1 / 3)
    extra = scorer.extra(scores, samples)["ragas"]
    assert extra["failures"] == {"semantic_similarity": {"empty answer": 1}}
    assert extra["answer_correctness_weights"] == {"factuality": 0.75, "similarity": 0.25}
    assert extra["judge"] is None and extra["version"] == "0.4.3"
