"""``harness judge-agreement``: kappa and Spearman between two judges on the same outputs, checked
against scikit-learn and SciPy, whole CLI output on synthetic run folders, one-line errors."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest
from click.testing import CliRunner

from harness.record import read_samples
from judges.agreement import cohen_kappa, spearman
from tests.harness._runs_factory import make_run

GRADES_A = [8, 7, 3, 9, 2, 6, 5, 8, 4, 10]
GRADES_B = [7, 7, 4, 9, 3, 5, 5, 6, 2, 9]
VERDICTS_A = ["a", "a", "b", "tie", "a", "b", "b", "a"]
VERDICTS_B = ["a", "tie", "b", "tie", "a", "a", "b", "a"]


def _judged(root: Path, run_id: str, verdicts: list, scorer: str = "judge") -> Path:
    """A run folder whose every item has the same answer and the given judge verdicts."""
    grades = scorer == "judge"
    metric = "judge_score" if grades else "win_rate"
    win = {"a": 1.0, "tie": 0.5, "b": 0.0}
    values = [float(v) if grades else win[v] for v in verdicts]
    folder = make_run(root, run_id, values, task="mtbench_style", metric=metric, scorer=scorer)
    rows = read_samples(folder)
    with open(folder / "samples.jsonl", "w", encoding="utf-8") as f:
        for i, (s, v) in enumerate(zip(rows, verdicts, strict=True)):
            s.outputs = [f"answer {i}"]
            s.scores[scorer].answer = float(v) if grades else v
            f.write(s.model_dump_json() + "\n")
    return folder


def _cli(*args: str) -> tuple[int, str]:
    from harness.cli import cli

    res = CliRunner().invoke(cli, ["judge-agreement", *args])
    return res.exit_code, res.output


def test_kappa_and_spearman_match_sklearn_and_scipy() -> None:
    from scipy.stats import spearmanr
    from sklearn.metrics import cohen_kappa_score

    rng = random.Random(3)
    for _ in range(20):
        a = [rng.randint(1, 10) for _ in range(30)]
        b = [min(10, max(1, x + rng.randint(-2, 2))) for x in a]
        want = cohen_kappa_score(a, b, labels=list(range(1, 11)), weights="quadratic")
        assert cohen_kappa(a, b, "quadratic") == pytest.approx(want, abs=1e-12)
        assert spearman(a, b) == pytest.approx(spearmanr(a, b).statistic, abs=1e-12)
        cats_a = [rng.choice("ab") if x > 5 else "tie" for x in a]
        cats_b = [rng.choice("ab") if x > 5 else "tie" for x in b]
        assert cohen_kappa(cats_a, cats_b) == pytest.approx(cohen_kappa_score(cats_a, cats_b))


def test_grades_whole_output(tmp_path: Path) -> None:
    from scipy.stats import spearmanr
    from sklearn.metrics import cohen_kappa_score

    a = _judged(tmp_path, "run-a", GRADES_A)
    b = _judged(tmp_path, "run-b", GRADES_B)
    kappa = cohen_kappa_score(GRADES_A, GRADES_B, labels=list(range(1, 11)), weights="quadratic")
    rho = spearmanr(GRADES_A, GRADES_B).statistic
    code, out = _cli(str(a), str(b))
    assert code == 0, out
    lines = out.splitlines()
    assert lines[0] == (
        "mtbench_style · judge: 1-10 grades on 10 shared outputs "
        "(0 without a readable verdict in both runs)"
    )
    assert lines[1].startswith(
        f"  cohen's kappa (quadratic-weighted over labels 1-10): {kappa:.3f} ["
    )
    assert lines[1].endswith("] (bootstrap 95%)")
    assert lines[2].startswith(f"  spearman: {rho:.3f} [")
    assert lines[3] == "  exact agreement: 30.0%" and len(lines) == 4
    code, out = _cli(str(a), str(b), "--json")
    data = json.loads(out)
    assert data["kappa"]["value"] == pytest.approx(kappa) and data["n"] == 10
    assert data["kappa"]["ci_low"] <= kappa <= data["kappa"]["ci_high"]
    assert data["kappa"]["method"] == "bootstrap"


def test_pairwise_verdicts_use_plain_kappa(tmp_path: Path) -> None:
    from sklearn.metrics import cohen_kappa_score

    a = _judged(tmp_path, "pw-a", VERDICTS_A, scorer="pairwise")
    b = _judged(tmp_path, "pw-b", VERDICTS_B, scorer="pairwise")
    code, out = _cli(str(a), str(b), "--json")
    assert code == 0, out
    data = json.loads(out)
    assert data["kind"] == "verdict" and data["n"] == 8
    assert data["kappa"]["value"] == pytest.approx(cohen_kappa_score(VERDICTS_A, VERDICTS_B))
    assert data["exact_agreement"] == pytest.approx(6 / 8)
    code, out = _cli(str(a), str(b))
    assert "pairwise verdicts (A / tie / B) on 8 shared outputs" in out
    assert "cohen's kappa (unweighted): " in out


def test_mismatched_runs_give_one_line(tmp_path: Path) -> None:
    a = _judged(tmp_path, "run-a", GRADES_A)
    other = make_run(tmp_path, "other", [1.0] * 10, task="gsm8k")
    code, out = _cli(str(a), str(other))
    assert code == 2
    assert out == (f"error: {a} is task 'mtbench_style' but {other} is 'gsm8k'; compare one task\n")
    c = _judged(tmp_path, "run-c", GRADES_B)
    rows = read_samples(c)
    rows[4].outputs = ["a different answer"]
    (c / "samples.jsonl").write_text("".join(r.model_dump_json() + "\n" for r in rows))
    code, out = _cli(str(a), str(c))
    assert code == 2 and out == (
        "error: 1 of 10 shared items have different answers (first: mtbench_style-0004); "
        "judge agreement needs the same outputs judged twice (harness rescore)\n"
    )
    pw = _judged(tmp_path, "pw", [*VERDICTS_A, "a", "a"], scorer="pairwise")
    code, out = _cli(str(a), str(pw))
    assert code == 2
    assert out == (
        "error: the runs share no judge scorer (judge, judge_pairwise, ...) to compare\n"
    )
