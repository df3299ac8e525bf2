"""Suites and item selection on the fake backend: one engine for every task, one group id,
the combined table, fractions and seeded samples that are recorded and paired."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest

from harness import DataOptions, RunContext, run_eval
from harness._errors import HarnessError
from harness._suite import SuiteTask, load_suite, parse_task_arg
from harness.record import read_run

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests" / "cli"))
from _cli_helpers import invoke  # noqa: E402

SCRIPT = 'default: "I cannot say. #### 7"\n'


@pytest.fixture
def script(tmp_path: Path) -> Path:
    path = tmp_path / "answers.yaml"
    path.write_text(SCRIPT, encoding="utf-8")
    return path


@pytest.fixture
def adapter(tmp_path: Path) -> Path:
    """A LoRA adapter folder the fake backend accepts (its weights are never loaded)."""
    folder = tmp_path / "tuned"
    folder.mkdir()
    (folder / "adapter_config.json").write_text(json.dumps({"base_model_name_or_path": "x"}))
    (folder / "adapter_model.safetensors").write_bytes(b"w")
    return folder


@pytest.fixture
def suite(tmp_path: Path) -> Path:
    path = tmp_path / "suite.yaml"
    path.write_text(
        "name: t\nlimit: 4\ntasks:\n"
        "  - task: gsm8k\n    params: {num_fewshot: 0}\n    limit: 3\n"
        "  - task: viggo\n    sample: 5\n"
        "  - tweeteval_sentiment\n",
        encoding="utf-8",
    )
    return path


def test_the_example_suite_parses() -> None:
    tasks = load_suite(ROOT / "examples" / "suites" / "daily.yaml")
    assert [t.task for t in tasks] == ["gsm8k", "viggo", "tweeteval_sentiment"]
    assert [(t.limit, t.sample) for t in tasks] == [(30, None), (None, 40), (50, None)]
    assert tasks[0].params == {"num_fewshot": 0}


def test_task_argument_mixes_names_and_suites(suite: Path) -> None:
    tasks = parse_task_arg(f"gsm8k,{suite}")
    assert [t.task for t in tasks] == ["gsm8k", "gsm8k", "viggo", "tweeteval_sentiment"]
    assert tasks[0] == SuiteTask("gsm8k")
    with pytest.raises(HarnessError, match="empty task name"):
        parse_task_arg("gsm8k,,viggo")


def test_bad_suite_lists_every_problem(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("tasks:\n  - task: gsm8k\n    limt: 3\n  - {task: viggo, limit: 2, sample: 3}\n")
    with pytest.raises(HarnessError) as e:
        load_suite(bad)
    assert "2 error(s)" in str(e.value) and "limt" in str(e.value)


def test_suite_runs_on_one_engine_with_one_group(
    tmp_path: Path, suite: Path, script: Path, data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import harness._eval as front

    built: list[str] = []
    real = front.build_backend

    def counting(name: str, **kw: Any) -> Any:
        built.append(name)
        return real(name, **kw)

    monkeypatch.setattr(front, "build_backend", counting)
    results = run_eval(
        parse_task_arg(str(suite)),
        backend="fake",
        backend_options={"model": str(script)},
        data=DataOptions(data_dir=data_dir),
        context=RunContext(runs_dir=tmp_path / "runs"),
    )
    assert built == ["fake"]  # one engine start for every task
    assert [r.record.task.name for r in results] == ["gsm8k", "viggo", "tweeteval_sentiment"]
    assert len({r.record.group_id for r in results}) == 1
    assert [r.record.dataset.n_evaluated for r in results] == [3, 5, 4]
    assert results[0].record.task.params == {"num_fewshot": 0}
    viggo = results[1].record.dataset
    assert viggo.sample == 5 and viggo.ids is not None and len(viggo.ids) == 5
    assert viggo.ids != [f"test-{i}" for i in range(5)]  # random, not the first five


def test_cli_suite_prints_the_combined_table(
    tmp_path: Path, suite: Path, script: Path, data_dir: Path
) -> None:
    result = invoke(
        [
            "run", "--task", f"{suite}", "--backend", "fake", "--model", str(script),
            "--data-dir", str(data_dir), "-o", str(tmp_path / "runs"), "--no-cache",
        ]
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    combined = result.stdout[result.stdout.index("all tasks · group g-") :]
    for name in ("gsm8k", "viggo", "tweeteval_sentiment", "flexible_match", "accuracy"):
        assert name in combined
    assert "  3 runs · " in combined
    assert len(list((tmp_path / "runs").iterdir())) == 3


def test_sample_is_seeded_recorded_and_paired(
    tmp_path: Path, script: Path, data_dir: Path, adapter: Path
) -> None:
    def ids(seed: int, out: str) -> list[list[str] | None]:
        results = run_eval(
            "viggo",
            backend="fake",
            backend_options={"model": str(script)},
            adapters=[str(adapter)],
            include_base=True,
            data=DataOptions(data_dir=data_dir, sample=6, seed=seed),
            context=RunContext(runs_dir=tmp_path / out),
        )
        return [read_run(r.folder).dataset.ids for r in results if r.folder]

    base, tuned = ids(1, "a")
    assert base == tuned and base is not None and len(base) == 6  # variants share the ids
    assert ids(1, "b")[0] == base  # the same seed draws the same ids
    assert ids(2, "c")[0] != base
    record = read_run(next((tmp_path / "a").iterdir()))
    assert (record.dataset.sample, record.dataset.seed, record.dataset.limit) == (6, 1, None)


def test_limit_fraction_takes_a_share_of_the_split(
    tmp_path: Path, script: Path, data_dir: Path
) -> None:
    (res,) = run_eval(
        "viggo",
        backend="fake",
        backend_options={"model": str(script)},
        data=DataOptions(data_dir=data_dir, limit=0.01),
        context=RunContext(runs_dir=None),
    )
    ds = res.record.dataset
    assert ds.n_evaluated == max(1, round(0.01 * ds.n_total))
    assert ds.ids == [f"test-{i}" for i in range(ds.n_evaluated)]
    with pytest.raises(HarnessError, match="only one"):
        run_eval(
            "viggo",
            backend="fake",
            backend_options={"model": str(script)},
            data=DataOptions(data_dir=data_dir, limit=2, sample=2),
            context=RunContext(runs_dir=None),
        )


def test_system_prompt_is_sent_recorded_and_keyed(
    tmp_path: Path, script: Path, data_dir: Path
) -> None:
    common = [
        "run", "--task", "gsm8k", "--limit", "2", "-T", "num_fewshot=0", "--backend", "fake",
        "--model", str(script), "--chat-template", "--data-dir", str(data_dir),
        "-o", str(tmp_path / "runs"), "--cache", str(tmp_path / "c.sqlite"), "--json",
    ]  # fmt: skip
    (tmp_path / "sys.txt").write_text("You are terse.\n")
    first = invoke([*common, "--system-prompt", "@" + str(tmp_path / "sys.txt")])
    assert first.exit_code == 0, first.output
    (summary,) = json.loads(first.stdout)
    record = read_run(Path(summary["folder"]))
    assert record.generation.system_prompt == "You are terse."
    prompt = json.loads((Path(summary["folder"]) / "samples.jsonl").read_text().splitlines()[0])
    assert prompt["prompt"][0] == {"role": "system", "content": "You are terse."}
    other = json.loads(invoke([*common, "--system-prompt", "Be verbose."]).stdout)
    assert other[0]["counts"]["cache_hits"] == 0  # another system prompt: not from the cache
    same = json.loads(invoke([*common, "--system-prompt", "You are terse."]).stdout)
    assert same[0]["counts"]["cache_hits"] == 2


def test_price_gives_a_cost_estimate(tmp_path: Path, script: Path, data_dir: Path) -> None:
    args = [
        "run", "--task", "gsm8k", "--limit", "2", "-T", "num_fewshot=0", "--backend", "fake",
        "--model", str(script), "--data-dir", str(data_dir), "-o", str(tmp_path / "runs"),
        "--no-cache", "--price-per-1k-tokens", "1.5,3",
    ]  # fmt: skip
    result = invoke(args)
    assert result.exit_code == 0, result.output
    record = read_run(next((tmp_path / "runs").iterdir()))
    u = record.usage
    assert u.model_tokens_in > 0 and u.model_tokens_out > 0
    assert u.cost == pytest.approx((u.model_tokens_in * 1.5 + u.model_tokens_out * 3) / 1000)
    assert f"{u.model_tokens_in} tokens in, {u.model_tokens_out} out" in result.stdout
    assert f"~{u.cost:.4f} est. cost" in result.stdout
    bad = invoke([*args[:-1], "cheap"])
    assert bad.exit_code == 2
    assert bad.stderr.strip().splitlines() == [
        "error: --price-per-1k-tokens 'cheap': pass IN,OUT prices per 1,000 tokens, e.g. 0.15,0.60"
    ]


def test_gate_evaluates_a_suite_instead_of_the_checks_params(
    tmp_path: Path, suite: Path, script: Path, data_dir: Path, adapter: Path
) -> None:
    from harness.gate import GatePolicy, run_candidate_evals

    policy = GatePolicy.model_validate(
        {"suite": str(suite), "checks": [{"task": "gsm8k", "metric": "flexible_match", "min": 0}]}
    )
    folders = run_candidate_evals(
        policy,
        str(adapter),
        backend="fake",
        backend_kw={"model": str(script)},
        runs_dir=tmp_path / "gate-runs",
        data_dir=data_dir,
        context=RunContext(),
    )
    records = [read_run(f) for f in folders]
    assert [(r.task.name, r.dataset.n_evaluated) for r in records] == [
        ("gsm8k", 3), ("gsm8k", 3), ("viggo", 5), ("viggo", 5),
        ("tweeteval_sentiment", 4), ("tweeteval_sentiment", 4),
    ]  # fmt: skip
    assert records[0].task.params == {"num_fewshot": 0}  # the suite's params, not the check's
    assert len({r.group_id for r in records}) == 1


def test_system_prompt_keeps_the_tasks_own_system_turn() -> None:
    from harness._types import Message, Prompt

    p = Prompt((Message("system", "Task rules."), Message("user", "Q")), "Task rules.\nQ")
    got = p.with_system("Be careful.")
    assert got.messages == (Message("system", "Be careful.\n\nTask rules."), Message("user", "Q"))
    assert got.text == "Be careful.\n\nTask rules.\nQ"
