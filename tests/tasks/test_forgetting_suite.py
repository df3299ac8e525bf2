"""examples/suites/forgetting.yaml and examples/gate-forgetting.yaml: the files agree, and the
gate runs as written on the bundled model with a real LoRA adapter (slow), on the data that
ships (ARC, IFEval) and fixtures in the published layouts for the rest."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any
from xml.etree import ElementTree as ET

import pytest

from harness._suite import load_suite

ROOT = Path(__file__).resolve().parents[2]
SUITE = ROOT / "examples" / "suites" / "forgetting.yaml"
POLICY = ROOT / "examples" / "gate-forgetting.yaml"
FIXTURES = Path(__file__).parent / "fixtures" / "mc"
MC_TASKS = [
    "mmlu",
    "arc_challenge",
    "arc_easy",
    "hellaswag",
    "truthfulqa_mc1",
    "truthfulqa_mc2",
    "winogrande",
]


def policy_checks() -> list[Any]:
    from harness import load_policy

    return list(load_policy(POLICY).checks)


def test_suite_holds_ifeval_and_every_multiple_choice_task() -> None:
    tasks = load_suite(SUITE)
    assert [t.task for t in tasks] == ["ifeval", *MC_TASKS]
    assert all(t.sample is not None and t.limit is None for t in tasks)
    assert sum(int(t.sample or 0) for t in tasks) == 16 + 30 + 40 * 3 + 30 * 2 + 60


def test_policy_checks_every_task_of_its_suite_non_inferior() -> None:
    from harness import load_policy

    policy = load_policy(POLICY)
    assert policy.suite == "examples/suites/forgetting.yaml"
    assert {c.task for c in policy.checks} == {t.task for t in load_suite(SUITE)}
    margins = [c for c in policy.checks if c.non_inferiority_margin is not None]
    assert {c.task for c in margins} == {t.task for t in load_suite(SUITE)}
    assert all(c.non_inferiority_margin == 0.05 for c in margins)
    (per_subject,) = [c for c in policy.checks if c.per_category]
    assert (per_subject.task, per_subject.metric) == ("mmlu", "acc")


def _mmlu_all_subjects(folder: Path) -> None:
    """Hendrycks's layout for all 57 subjects, each with five made-up dev questions and one
    made-up test question (short, so the 5-shot prompts stay cheap on a CPU)."""
    from tasks.mmlu import SUBJECTS

    for split, n in (("dev", 5), ("test", 1)):
        (folder / split).mkdir(parents=True)
        for subject in SUBJECTS:
            rows = [
                [f"Question {k} on {subject}?", "w", "x", "y", "z", "ABCD"[k % 4]] for k in range(n)
            ]
            path = folder / split / f"{subject}_{split}.csv"
            with open(path, "w", encoding="utf-8", newline="") as f:
                csv.writer(f, lineterminator="\n").writerows(rows)


@pytest.mark.slow
def test_gate_runs_the_suite_as_written_on_the_bundled_model(
    tmp_path: Path, data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from harness._models import resolve_model
    from tests.cli._cli_helpers import invoke
    from tests.harness._lora import make_lora

    data = tmp_path / "data"
    data.mkdir()
    for name in ("arc", "ifeval", "nltk_data"):
        (data / name).symlink_to(data_dir / name)
    for name in ("hellaswag", "truthfulqa", "winogrande"):
        (data / name).symlink_to(FIXTURES / name)
    _mmlu_all_subjects(data / "mmlu")
    lora = make_lora(resolve_model(None).path, tmp_path / "lora", scale=0.02)
    monkeypatch.chdir(ROOT)  # the policy names its suite relative to the checkout
    junit = tmp_path / "junit.xml"
    args = ["gate", "--policy", "examples/gate-forgetting.yaml", "--eval-adapter", str(lora)]
    args += ["--limit", "2", "--max-new-tokens", "16", "--data-dir", str(data)]
    args += ["--output-dir", str(tmp_path / "runs"), "--junit", str(junit)]
    result = invoke(args)
    # Two items a task cannot show non-inferiority within 0.05: a verdict, not an error.
    assert result.exit_code in (0, 1), result.output
    runs = sorted((tmp_path / "runs").glob("*/run.json"))
    assert len(runs) == 2 * 8
    suite = ET.parse(junit).getroot().find("testsuite")
    assert suite is not None
    cases = [(c.get("classname"), c.get("name") or "") for c in suite.iter("testcase")]
    assert {cls for cls, _ in cases} == {f"gate.{t}" for t in ["ifeval", *MC_TASKS]}, cases
    per_subject = [n for cls, n in cases if cls == "gate.mmlu" and "acc@" in n]
    # --limit 2 takes mmlu's first two items: one question each of the first two subjects
    assert [n.split()[0] for n in per_subject] == ["acc@abstract_algebra", "acc@anatomy"]
    assert all("bonferroni over 2 categories" in n for n in per_subject), per_subject
    assert suite.get("tests") == str(len(policy_checks()) + 1)  # per_category: 2 for 1
