"""Per-category metrics end to end: a YAML task with ``categories:``, base and adapter runs on the
fake backend, the record's ``METRIC@CATEGORY`` and ``METRIC_macro``, paired comparisons, the
report's breakdown and the gate's ``per_category: true`` with its Bonferroni correction."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from _runs_factory import make_run

from harness import HarnessError, RunContext, run_eval
from harness._categories import categories_of, split_metric
from harness.gate import evaluate, load_policy, to_junit
from harness.report import build_report
from harness.runstore import compare_metric, load_runs, lower_is_better

SIZES = {"alg": 12, "bio": 6, "chem": 6}  # unequal, so micro and macro averages differ


@pytest.fixture
def runs(tmp_path: Path) -> list:
    rows = [
        {"q": f"question {s} {i}", "a": "yes", "subject": s}
        for s, k in SIZES.items()
        for i in range(k)
    ]
    (tmp_path / "d.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    (tmp_path / "task.yaml").write_text(
        "name: cats\n"
        "dataset: {path: d.jsonl, target: a, metadata: {subject: subject}}\n"
        'prompt: {template: "{q}"}\n'
        "metrics: [exact_match, chrf]\n"
        "categories: subject\n"
    )
    script = tmp_path / "script.yaml"
    script.write_text(
        'default: "yes"\nadapters:\n  tuned:\n    default: "yes"\n'
        '    answers:\n      - {contains: "chem", text: "no"}\n'
    )
    adapter = tmp_path / "tuned"
    adapter.mkdir()
    (adapter / "adapter_config.json").write_text(json.dumps({"base_model_name_or_path": "x"}))
    (adapter / "adapter_model.safetensors").write_bytes(b"w")
    run_eval(
        str(tmp_path / "task.yaml"),
        backend="fake",
        backend_options={"model": str(script)},
        adapters=[str(adapter)],
        include_base=True,
        context=RunContext(runs_dir=tmp_path / "runs"),
    )
    loaded = sorted(load_runs([tmp_path / "runs"]), key=lambda r: r.adapter or "")
    assert [r.adapter for r in loaded] == [None, "tuned"]
    return loaded


def test_split_metric_and_categories_of() -> None:
    assert split_metric("acc@abstract_algebra") == ("acc", "abstract_algebra")
    assert split_metric("acc@clean") == ("acc", "clean")
    assert split_metric("acc") == ("acc", None) and split_metric("@x") == ("@x", None)
    assert categories_of({"g": ["a", "b", "a"]}, "g") == ["a", "b"]
    assert categories_of({"g": "a"}, "g") == ["a"] and categories_of({}, "g") == []
    assert not lower_is_better("acc@error_analysis")  # the category does not flip direction


def test_record_holds_each_category_with_its_own_n_and_macro(runs: list) -> None:
    base, tuned = runs
    assert tuned.record.task.categories == "subject"
    m = tuned.record.metrics
    assert {c: m[f"exact_match@{c}"].n for c in SIZES} == SIZES
    assert [m[f"exact_match@{c}"].value for c in SIZES] == [1.0, 1.0, 0.0]
    assert m["exact_match"].value == pytest.approx(18 / 24)  # micro: over items
    assert m["exact_match_macro"].value == pytest.approx(2 / 3)  # macro: over subjects
    chem = m["exact_match@chem"]
    assert chem.method == "wilson" and 0.0 <= chem.ci_low <= chem.ci_high <= 1.0
    assert chem.ci_high < 0.5  # n=6 all wrong: the interval is its own, not the overall one
    assert "chrf@chem" in m and base.record.metrics["chrf@chem"].value == pytest.approx(100.0)


def test_paired_comparisons_per_category_macro_and_corpus(runs: list) -> None:
    base, tuned = runs
    chem = compare_metric(base, tuned, "exact_match@chem")
    assert chem is not None and chem.pairing.paired and chem.result.n == 6
    assert chem.result.delta == pytest.approx(-1.0) and chem.result.worse == 6
    alg = compare_metric(base, tuned, "exact_match@alg")
    assert alg is not None and alg.result.delta == 0 and alg.result.n == 12
    macro = compare_metric(base, tuned, "exact_match_macro")
    assert macro is not None and macro.corpus and macro.result.delta == pytest.approx(-1 / 3)
    bleu = compare_metric(base, tuned, "chrf@chem")
    assert bleu is not None and bleu.corpus and bleu.result.candidate == pytest.approx(0.0)


def test_report_keeps_overall_columns_and_a_per_category_breakdown(runs: list) -> None:
    report = build_report(runs)
    assert not [c for c in report.columns if "@" in c]
    assert "cats/exact_match_macro" in report.columns
    (section,) = [s for s in report.sections if s.title.startswith("Per-category breakdown")]
    rows = {(r[0], r[1]): r for r in section.rows}
    assert rows[("chem", "exact_match")][3].startswith("0.0000 [")
    assert "n=6" in rows[("chem", "exact_match")][3]
    assert rows[("chem", "exact_match")][2].startswith("1.0000 [")  # the base model
    assert "-1.0000" in rows[("chem", "exact_match")][-1]
    assert any(d.metric == "exact_match@chem" and d.verdict == "worse" for d in report.deltas)


def _policy(tmp_path: Path, checks: str) -> Path:
    path = tmp_path / "gate.yaml"
    path.write_text(f"version: 1\nalpha: 0.05\nchecks:\n{checks}")
    return path


def test_gate_on_one_category_and_per_category_with_bonferroni(runs: list, tmp_path: Path) -> None:
    one = "  - {task: cats, metric: exact_match@chem, max_regression: 0}\n"
    res = evaluate(load_policy(_policy(tmp_path, one)), runs)
    assert [r.status for r in res.results] == ["fail"]
    every = "  - {task: cats, metric: exact_match, max_regression: 0, per_category: true}\n"
    res = evaluate(load_policy(_policy(tmp_path, every)), runs)
    by = {r.metric: r for r in res.results}
    assert sorted(by) == [f"exact_match@{c}" for c in sorted(SIZES)]
    assert by["exact_match@chem"].status == "fail" and by["exact_match@alg"].status == "pass"
    nums = by["exact_match@chem"].numbers
    assert (nums["correction"], nums["family_size"]) == ("bonferroni", 3)
    assert nums["alpha"] == pytest.approx(0.05 / 3)
    assert "Bonferroni over 3 categories" in by["exact_match@chem"].reason
    junit = to_junit(res)
    assert "exact_match@chem regression &lt;= 0 vs baseline [bonferroni over 3 categories]" in junit
    assert res.exit_code == 1


def test_per_category_needs_a_task_with_categories(tmp_path: Path) -> None:
    make_run(tmp_path / "r", "r1", [1, 0, 1])
    policy = "  - {task: gsm8k, metric: accuracy, min: 0.1, per_category: true}\n"
    with pytest.raises(HarnessError, match="declares no categories"):
        evaluate(load_policy(_policy(tmp_path, policy)), load_runs([tmp_path / "r"]))
