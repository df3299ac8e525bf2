"""The forgetting view: adapters significantly worse than their base, at the top of the report."""

from __future__ import annotations

from pathlib import Path

from _runs_factory import make_run

from harness import load_runs
from harness.report import build_report, write_report


def _runs(root: Path) -> Path:
    runs = root / "runs"
    right = [1.0] * 30
    hurt = [1.0] * 10 + [0.0] * 20  # 20 items right -> wrong: McNemar p ~ 2e-6
    make_run(runs, "gsm8k-base", right, group_id="g1")
    make_run(runs, "gsm8k-tuned", hurt, adapter="tuned", group_id="g1")
    make_run(runs, "arc-base", right, task="arc", group_id="g2")
    make_run(runs, "arc-tuned", right, adapter="tuned", task="arc", group_id="g2")
    return runs


def test_lists_the_task_where_the_adapter_is_worse(tmp_path: Path) -> None:
    rep = build_report(load_runs([_runs(tmp_path)]))
    assert len(rep.forgetting) == 1
    (line,) = rep.forgetting
    assert line == (
        "SmolLM2-135M-Instruct + tuned is worse than SmolLM2-135M-Instruct on gsm8k: accuracy "
        "1.000 → 0.333 (-0.667 [-0.804, -0.446], p=1.9e-06, mcnemar-exact, n=30)"
    )


def test_the_view_opens_the_html_and_markdown(tmp_path: Path) -> None:
    out = tmp_path / "report"
    write_report(build_report(load_runs([_runs(tmp_path)])), out)
    html = (out / "report.html").read_text(encoding="utf-8")
    assert html.index('id="forgetting"') < html.index("<h2>Leaderboard</h2>")
    assert "tuned is worse than" in html
    md = (out / "report.md").read_text(encoding="utf-8")
    assert md.index("## Forgetting") < md.index("## Leaderboard")


def test_no_adapter_worse_says_so(tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    make_run(runs, "base", [1.0, 0.0] * 10)
    make_run(runs, "tuned", [1.0, 0.0] * 10, adapter="tuned")
    rep = build_report(load_runs([runs]))
    assert rep.forgetting == []
    write_report(rep, tmp_path / "r")
    assert "Forgetting: no adapter is significantly worse" in (
        tmp_path / "r" / "report.html"
    ).read_text(encoding="utf-8")
