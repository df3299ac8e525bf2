"""The report's layout: primary metrics first, rates as badges, sparse metrics marked, and the
paper table (base vs adapter with the paired Δ), in the model, Markdown and HTML."""

from __future__ import annotations

from pathlib import Path

from _report_fixtures import INSTRUCT_PRIMARY, judged_runs, suite_runs

from harness import load_runs
from harness.report import build_report, to_html, to_markdown
from harness.report._paper import paper_tables
from harness.report._primary import is_qualifier, qualified_metric

BASE = "SmolLM2-135M-Instruct"
LORA = "SmolLM2-135M-Instruct + instruct-lora"


def test_rates_name_the_metric_they_qualify() -> None:
    present = {"judge_score", "answer_correctness", "strict_match", "acc"}
    assert qualified_metric("judge_error_rate", present) == "judge_score"
    assert qualified_metric("answer_correctness_failure_rate", present) == "answer_correctness"
    assert qualified_metric("strict_no_match", present) == "strict_match"
    assert qualified_metric("rubric_parse_failure_rate", present) is None  # no rubric_score
    assert is_qualifier("invalid_rate") and is_qualifier("length_cut_rate")
    assert not is_qualifier("win_rate") and not is_qualifier("acc")


def test_judged_report_puts_primary_first_and_rates_on_cells(tmp_path: Path) -> None:
    rep = build_report(load_runs([judged_runs(tmp_path)]))
    assert rep.primary == [f"instruct/{m}" for m in INSTRUCT_PRIMARY]
    assert rep.columns == [*rep.primary, "instruct/faithfulness"]  # no rate is a column
    base = next(r for r in rep.rows if r.adapter is None)
    judge = base.cells["instruct/judge_score"]
    assert [(b.metric, b.value) for b in judge.badges] == [("judge_error_rate", 0.1)]
    correct = base.cells["instruct/answer_correctness"]
    assert [(b.metric, b.value) for b in correct.badges] == [
        ("answer_correctness_failure_rate", 0.2)
    ]
    assert base.cells["instruct/semantic_similarity"].badges == []  # a zero rate says nothing
    faith = base.cells["instruct/faithfulness"]
    assert faith.sparse and (faith.n, faith.n_evaluated) == (1, 10)
    assert not judge.sparse

    md = to_markdown(rep)
    board = md.split("## Leaderboard")[1].split("### Other metrics")[0]
    assert "faithfulness" not in board and "failure_rate |" not in board
    assert "(answer_correctness_failure_rate 0.200)" in board
    others = md.split("### Other metrics")[1].split("## Paper table")[0]
    assert "n=1/10 ⚠" in others

    html = to_html(rep, {})
    lead = html.split('id="leaderboard"')[1].split("</table>")[0]
    assert "faithfulness" not in lead and "<th>instruct/<wbr>judge_<wbr>score</th>" in lead
    assert 'class="badge"' in lead
    more = html.split('<details id="more-metrics">')[1].split("</details>")[0]
    assert "instruct/<wbr>faithfulness" in more and "n=1/10 ⚠" in more


def test_paper_table_has_a_row_per_model_and_a_paired_delta(tmp_path: Path) -> None:
    rep = build_report(load_runs([judged_runs(tmp_path)]))
    (table,) = paper_tables(rep)
    assert table.task == "instruct" and table.metrics == list(INSTRUCT_PRIMARY)
    assert [r.label for r in table.rows] == [BASE, LORA, f"Δ {LORA} − {BASE}"]
    delta = table.rows[2].deltas["answer_correctness"]
    assert delta.comparison.pairing.paired and delta.comparison.result.delta > 0.15

    md = to_markdown(rep)
    paper = md.split("## Paper table")[1].split("## Adapter vs base")[0]
    lines = [ln for ln in paper.splitlines() if ln.startswith("| ")]
    assert lines[0] == "| model | judge_score | answer_correctness | semantic_similarity |"
    assert lines[2].startswith(f"| {BASE} | ") and " n=10 |" in lines[2]
    assert lines[4].startswith(f"| *Δ {LORA} − {BASE}* | +")
    assert lines[4].count(" p=") == 3 and "unpaired" not in lines[4]

    html = to_html(rep, {})
    assert html.count('<table class="paper"') == 1 and html.count('<tr class="delta">') == 1


def test_suite_report_orders_primary_by_task(tmp_path: Path) -> None:
    rep = build_report(load_runs([suite_runs(tmp_path)]))
    assert rep.primary == [
        "arc_challenge_with_a_long_name/acc_norm",
        "arc_challenge_with_a_long_name/acc",
        "gsm8k/flexible_match",
        "gsm8k/strict_match",
        "ifeval/prompt_level_strict_acc",
        "ifeval/inst_level_strict_acc",
    ]
    assert "gsm8k/strict_no_match" not in rep.columns
    assert rep.columns[6:] == ["ifeval/inst_level_loose_acc", "ifeval/prompt_level_loose_acc"]
    assert [t.task for t in rep.paper] == [
        "arc_challenge_with_a_long_name",
        "gsm8k",
        "ifeval",
    ]
    assert all(len(t.rows) == 3 for t in rep.paper)


def test_runs_without_declared_primaries_show_every_quality_metric(tmp_path: Path) -> None:
    from _runs_factory import make_run

    make_run(tmp_path / "runs", "r", [1, 0, 1], extra_metrics={"rougeL": [0.2, 0.4, 0.5]})
    rep = build_report(load_runs([tmp_path / "runs"]))
    assert rep.primary == rep.columns == ["gsm8k/accuracy", "gsm8k/rougeL"]
    assert "### Other metrics" not in to_markdown(rep)
