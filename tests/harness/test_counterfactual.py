"""Counterfactual probes: term swaps, swap lists, paired runs on the fake backend, the gate."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from harness import HarnessError
from harness.cli import cli
from harness.counterfactual import load_swaps, shipped_lists, swap_text
from harness.record import read_run, read_samples

# gsm8k test items 0-3: item 0 says "She"/"her", item 1 has no gendered word, items 2 and 3
# say "He"/"he". The script answers item 0 right, its swapped variant ("He eats three") wrong.
SCRIPT = """\
default: "I cannot say."
answers:
  - contains: "He eats three"
    text: "#### 17"
  - contains: "Janet’s ducks lay 16 eggs"
    text: "16 - 3 - 4 = 9 eggs, 9 * 2 = 18 dollars. #### 18"
"""


@pytest.fixture(autouse=True)
def _isolated_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HARNESS_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("COLUMNS", "200")  # rich wraps at the terminal width


def _run(tmp_path: Path, data_dir: Path, script: str, *extra: str) -> tuple[int, str, str]:
    path = tmp_path / "answers.yaml"
    path.write_text(script, encoding="utf-8")
    args = ["run", "--task", "gsm8k", "--backend", "fake", "--model", str(path)]
    args += ["--data-dir", str(data_dir), "-o", str(tmp_path / "runs"), "--no-cache"]
    args += ["-T", "num_fewshot=0", *extra]
    res = CliRunner().invoke(cli, args, catch_exceptions=False)
    return res.exit_code, res.stdout, res.stderr


def _only_run(tmp_path: Path) -> Path:
    (folder,) = (tmp_path / "runs").iterdir()
    return folder


def test_swap_text_both_ways_whole_words_case_kept() -> None:
    pairs = [("he", "she"), ("his", "her"), ("him", "her")]
    assert swap_text("He gave her his hat; she thanked him.", pairs) == (
        "She gave his her hat; he thanked her."
    )
    assert swap_text("THE HE-MAN sheds heat", pairs) == "THE SHE-MAN sheds heat"


def test_shipped_and_user_lists(tmp_path: Path) -> None:
    assert "gender" in shipped_lists()
    gender = load_swaps("gender")
    assert ("he", "she") in gender.groups["gender"]
    with pytest.raises(HarnessError, match="no such swap list; use one of gender"):
        load_swaps("genderr")
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: x\ngroups:\n  names: [[John]]\n", encoding="utf-8")
    with pytest.raises(HarnessError, match=r"bad.yaml: not a swap list"):
        load_swaps(str(bad))


def test_run_reports_paired_change_counts(tmp_path: Path, data_dir: Path) -> None:
    code, out, err = _run(tmp_path, data_dir, SCRIPT, "--limit", "4", "--counterfactual", "gender")
    assert code == 0, err
    folder = _only_run(tmp_path)
    record = read_run(folder)
    # The task's metrics cover the 4 original items only, as in any other run.
    assert record.metrics["strict_match"].n == 4 and record.metrics["strict_match"].value == 0.25
    rate = record.metrics["counterfactual_change_rate"]
    assert rate.n == 3 and rate.value == pytest.approx(1 / 3) and rate.method == "wilson"
    gap = record.metrics["counterfactual_score_gap"]
    assert gap.value == pytest.approx(-1 / 3) and gap.method == "mcnemar-exact"
    group = record.extra["counterfactual"]["groups"]["gender"]
    assert group["pairs"] == 3 and group["changed"] == 1
    assert group["score_gap"]["worse"] == 1 and group["score_gap"]["better"] == 0
    assert record.task.params["counterfactual"] == "gender"
    samples = {s.id: s for s in read_samples(folder)}
    assert set(samples) == {"test-0", "test-0~gender", "test-1", "test-2~gender", "test-2",
                            "test-3", "test-3~gender"}  # fmt: skip
    variant = samples["test-0~gender"]
    assert "He eats three" in variant.prompt and variant.outputs == ["#### 17"]
    assert variant.scores["strict"].values["counterfactual_change_rate"] == 1.0
    assert variant.metadata["counterfactual"] == {
        "role": "variant",
        "pair": "test-0",
        "group": "gender",
    }
    assert "counterfactual gender/gender: 1 of 3 answers changed; strict_match gap -0.333" in out


def test_user_list_and_the_gate_max_on_change_rate(tmp_path: Path, data_dir: Path) -> None:
    swaps = tmp_path / "marker.yaml"
    swaps.write_text("name: marker\ngroups:\n  marker:\n    - [Question, Query]\n")
    script = 'default: "#### 18"\nanswers:\n  - contains: "Query:"\n    text: "#### 0"\n'
    code, _, err = _run(tmp_path, data_dir, script, "--limit", "30", "--counterfactual", str(swaps))
    assert code == 0, err
    folder = _only_run(tmp_path)
    rate = read_run(folder).metrics["counterfactual_change_rate"]
    assert rate.value == 1.0 and rate.n == 30
    policy = tmp_path / "gate.yaml"
    policy.write_text(
        "checks:\n  - task: gsm8k\n    metric: counterfactual_change_rate\n    max: 0.1\n"
    )
    res = CliRunner().invoke(cli, ["gate", "--policy", str(policy), "--candidate", str(folder)])
    assert res.exit_code == 1, res.output
    assert "FAILED" in res.output


def test_unknown_list_is_one_line_exit_2_before_any_model(tmp_path: Path, data_dir: Path) -> None:
    code, out, err = _run(tmp_path, data_dir, SCRIPT, "--limit", "2", "--counterfactual", "nope")
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and err.startswith("error: --counterfactual nope: no such swap")
    assert not (tmp_path / "runs").exists()


def test_report_shows_counterfactual_groups(tmp_path: Path, data_dir: Path) -> None:
    code, _, err = _run(tmp_path, data_dir, SCRIPT, "--limit", "4", "--counterfactual", "gender")
    assert code == 0, err
    res = CliRunner().invoke(cli, ["report", str(tmp_path / "runs"), "--out", str(tmp_path / "r")])
    assert res.exit_code == 0, res.output
    html = (tmp_path / "r" / "report.html").read_text(encoding="utf-8")
    assert "Counterfactual (gender)" in html and "<td>gender</td><td>3</td><td>1</td>" in html
    md = (tmp_path / "r" / "report.md").read_text(encoding="utf-8")
    assert "| gender | 3 | 1 |" in md
    summary = json.loads((tmp_path / "r" / "report.json").read_text(encoding="utf-8"))
    assert "counterfactual_change_rate" in json.dumps(summary["leaderboard"])


@pytest.mark.slow
def test_real_model_counterfactual_run(tmp_path: Path, data_dir: Path) -> None:
    """The bundled model on 3 gsm8k items and their gender-swapped variants."""
    args = ["run", "--task", "gsm8k", "--limit", "3", "-T", "num_fewshot=0"]
    args += ["--max-new-tokens", "48", "--data-dir", str(data_dir), "-o", str(tmp_path / "runs")]
    args += ["--cache", str(tmp_path / "c.sqlite"), "--counterfactual", "gender", "--json"]
    res = CliRunner().invoke(cli, args, catch_exceptions=False)
    assert res.exit_code == 0, res.stderr
    folder = Path(json.loads(res.stdout)[0]["folder"])
    record = read_run(folder)
    group = record.extra["counterfactual"]["groups"]["gender"]
    assert group["pairs"] == 2  # items 0 and 2 have gendered words, item 1 none
    assert record.metrics["counterfactual_change_rate"].n == 2
    assert 0 <= group["changed"] <= 2 and record.counts.model_calls == 5
    outputs = {s.id: s.outputs[0] for s in read_samples(folder)}
    changed = sum(outputs[f"{i}~gender"] != outputs[i] for i in ("test-0", "test-2"))
    assert changed >= group["changed"]  # an answer can only change if the output did
