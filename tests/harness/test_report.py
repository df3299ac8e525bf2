"""Leaderboard report: data model, Markdown, self-contained HTML, and the CLI."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest
from _runs_factory import make_run, write_manifest
from click.testing import CliRunner

from harness import load_runs
from harness.cli import cli
from harness.record import Timing, Usage
from harness.report import build_report, write_report


def build_runs(root: Path) -> Path:
    """Base + two adapters: one paired (same group, with a manifest), one on other items."""
    rng = np.random.default_rng(0)
    base = (rng.random(120) < 0.55).astype(float)
    good = base.copy()
    good[np.flatnonzero(base == 0)[:14]] = 1.0  # 14 wrong->right
    good[np.flatnonzero(base == 1)[:3]] = 0.0  # 3 right->wrong
    rouge_b = np.round(rng.uniform(0.2, 0.6, 120), 4)
    rouge_g = np.round(np.clip(rouge_b + rng.normal(0.03, 0.05, 120), 0, 1), 4)
    runs = root / "runs"
    make_run(
        runs,
        "run-base",
        base.tolist(),
        extra_metrics={"rougeL": rouge_b.tolist()},
        created_at="2026-11-22T10:00:00+00:00",
    )
    adapter_dir = root / "adapters" / "gsm8k-lora"
    write_manifest(adapter_dir, [(10, 1.9, None), (20, 1.4, 1.6), (30, 1.1, 1.35), (40, 0.9, 1.3)])
    make_run(
        runs,
        "run-good",
        good.tolist(),
        adapter="gsm8k-lora",
        adapter_path=adapter_dir,
        extra_metrics={"rougeL": rouge_g.tolist()},
        created_at="2026-11-22T10:00:01+00:00",
    )
    other = (rng.random(80) < 0.5).astype(float)
    make_run(
        runs,
        "run-other",
        other.tolist(),
        adapter="old-lora",
        adapter_path=root / "adapters" / "missing",
        group_id="g-old",
        ids=[f"x-{i}" for i in range(80)],
        created_at="2026-11-21T09:00:00+00:00",
    )
    return runs


@pytest.fixture
def report_dir(tmp_path: Path) -> Path:
    runs = build_runs(tmp_path)
    out = tmp_path / "report"
    write_report(build_report(load_runs([runs]), title="Test board"), out)
    return out


def test_model_pairs_compares_and_reads_manifests(tmp_path: Path) -> None:
    rep = build_report(load_runs([build_runs(tmp_path)]))
    assert [r.label for r in rep.rows] == [
        "SmolLM2-135M-Instruct + old-lora",
        "SmolLM2-135M-Instruct",
        "SmolLM2-135M-Instruct + gsm8k-lora",
    ]
    assert rep.columns == ["gsm8k/accuracy", "gsm8k/rougeL"]
    by = {(d.cand_label, d.metric): d for d in rep.deltas}
    acc = by[("SmolLM2-135M-Instruct + gsm8k-lora", "accuracy")]
    assert acc.comparison.label == "paired" and acc.comparison.result.test == "mcnemar-exact"
    assert (acc.comparison.result.worse, acc.comparison.result.better) == (3, 14)
    assert acc.flips_total == 17 and len(acc.flips) == 17
    assert sum(f.direction == "right->wrong" for f in acc.flips) == 3
    flip = acc.flips[0]
    assert flip.base_output != flip.cand_output and "Question" in flip.prompt
    rouge = by[("SmolLM2-135M-Instruct + gsm8k-lora", "rougeL")]
    assert rouge.comparison.result.test == "paired-bootstrap" and not rouge.flips
    old = by[("SmolLM2-135M-Instruct + old-lora", "accuracy")]
    assert old.comparison.label.startswith("unpaired (item ids differ")
    assert old.comparison.result.test == "z"
    assert [c.label for c in rep.curves] == ["SmolLM2-135M-Instruct + gsm8k-lora"]
    assert rep.curves[0].eval_loss == [None, 1.6, 1.35, 1.3]
    assert any("no adapter_manifest.json" in n and "old-lora" in n for n in rep.notes)


def test_markdown_report(report_dir: Path) -> None:
    md = (report_dir / "report.md").read_text(encoding="utf-8")
    assert md.startswith("# Test board\n")
    assert "| model | gsm8k/accuracy | gsm8k/rougeL |" in md
    row = next(
        line
        for line in md.splitlines()
        if line.startswith("| SmolLM2-135M-Instruct + gsm8k-lora |")
    )
    assert re.search(r"\| 0\.\d{3} \[0\.\d{3}, 0\.\d{3}\] n=120 \|", row)
    assert "| mcnemar-exact | paired | 3 / 14 |" in md
    assert "### Flips: gsm8k/accuracy, SmolLM2-135M-Instruct + gsm8k-lora" in md
    assert "| 40 | 0.9000 | 1.3000 |" in md  # last step, train and eval loss
    for name in re.findall(r"!\[[^\]]*\]\((plots/[^)]+)\)", md):
        assert (report_dir / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "![loss](plots/loss.png)" in md and "![deltas_0-1](plots/deltas_0-1.png)" in md


def test_html_is_self_contained(report_dir: Path) -> None:
    html = (report_dir / "report.html").read_text(encoding="utf-8")
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", html)
    assert "@import" not in html and "url(" not in html
    assert html.count('src="data:image/png;base64,') == 3  # bars, deltas, loss
    assert 'id="leaderboard"' in html and html.count('<details class="flips" open>') == 1
    assert "unpaired (item ids differ (120 only in baseline, 80 only in candidate))" in html


def test_json_summary(report_dir: Path) -> None:
    data = json.loads((report_dir / "report.json").read_text(encoding="utf-8"))
    comps = {(c["candidate"], c["metric"]): c for c in data["comparisons"]}
    acc = comps[("SmolLM2-135M-Instruct + gsm8k-lora", "accuracy")]
    assert acc["flips"] == 17 and acc["result"]["delta"] == pytest.approx(11 / 120)
    assert acc["result"]["p_value"] == pytest.approx(2 * (1 + 17 + 136 + 680) / 2**17)
    assert acc["pairing"] == "paired"


def test_spending_table_shows_tokens_cost_and_start_up(tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    make_run(runs, "run-free", [1.0, 0.0, 1.0])
    make_run(
        runs,
        "run-paid",
        [1.0, 1.0, 0.0],
        adapter="judged-lora",
        created_at="2026-11-22T10:00:05+00:00",
        usage=Usage(
            model_tokens_in=12345,
            model_tokens_out=678,
            judge_tokens_in=4000,
            judge_tokens_out=90,
            price_per_1k_in=0.15,
            price_per_1k_out=0.6,
            cost=0.002258,
        ),
        timing=Timing(
            wall_s=40.25, model_s=30.0, tokens_per_s=22.6, setup_s=6.14, engine_start_s=14.93
        ),
    )
    out = tmp_path / "report"
    write_report(build_report(load_runs([runs])), out)
    md = (out / "report.md").read_text(encoding="utf-8")
    assert "## Tokens, cost and time" in md
    assert (
        "| run-paid | SmolLM2-135M-Instruct + judged-lora | gsm8k | 3 / – / – | 12,345 / 678 "
        "| 4,000 / 90 | – | 0.0023 | 40.2 s | 6.1 s | 14.9 s | 22.6 tok/s |"
    ) in md
    assert (
        "| run-free | SmolLM2-135M-Instruct | gsm8k | 3 / – / – | 0 / 0 | – | – | – | 12.5 s "
        "| – | – | – |"
    ) in md
    runs_json = json.loads((out / "report.json").read_text(encoding="utf-8"))["runs"]
    paid = next(r for r in runs_json if r["run_id"] == "run-paid")
    assert paid["usage"]["cost"] == 0.002258 and paid["timing"]["engine_start_s"] == 14.93
    html = (out / "report.html").read_text(encoding="utf-8")
    assert "<td>12,345 / 678</td><td>4,000 / 90</td><td>–</td><td>0.0023</td>" in html


def test_lower_is_better_metrics_flip_the_other_way(tmp_path: Path) -> None:
    base = [1.0] * 30 + [0.0] * 30
    cand = [0.0] * 10 + [1.0] * 20 + [0.0] * 30  # 10 right->wrong
    inverse = {"answer_no_match": [1 - v for v in base]}
    make_run(tmp_path / "runs", "b", base, extra_metrics=inverse)
    make_run(
        tmp_path / "runs",
        "c",
        cand,
        adapter="lora",
        extra_metrics={"answer_no_match": [1 - v for v in cand]},
    )
    deltas = {d.metric: d for d in build_report(load_runs([tmp_path / "runs"])).deltas}
    acc, miss = deltas["accuracy"], deltas["answer_no_match"]
    assert acc.flip_counts == miss.flip_counts == "10 / 0"
    assert acc.verdict == miss.verdict == "worse"
    assert {f.direction for f in acc.flips} == {f.direction for f in miss.flips} == {"right->wrong"}


def test_partial_runs_are_noted(tmp_path: Path) -> None:
    make_run(tmp_path / "runs", "half", [1.0, 0.0, 1.0], status="partial")
    rep = build_report(load_runs([tmp_path / "runs"]))
    assert rep.notes == [
        (
            "SmolLM2-135M-Instruct gsm8k: run half is partial; its numbers cover "
            "only the items it finished"
        )
    ]
    assert rep.runs[0]["status"] == "partial"


def test_values_are_escaped(tmp_path: Path) -> None:
    make_run(tmp_path / "runs", "evil", [1.0, 0.0], adapter="<script>alert(1)</script>")
    out = tmp_path / "rep"
    write_report(build_report(load_runs([tmp_path / "runs"])), out)
    html = (out / "report.html").read_text(encoding="utf-8")
    assert "<script>alert(1)</script>" not in html and "&lt;script&gt;alert(1)" in html


def test_cli_report(tmp_path: Path) -> None:
    runs = build_runs(tmp_path)
    res = CliRunner().invoke(cli, ["report", str(runs), "--out", str(tmp_path / "out")])
    assert res.exit_code == 0, res.output
    assert res.output.splitlines()[0] == "3 runs, 3 rows, 3 comparisons"
    assert (tmp_path / "out" / "report.html").is_file()
    res = CliRunner().invoke(cli, ["report", str(tmp_path / "empty"), "--out", str(tmp_path / "o")])
    assert res.exit_code == 2 and "no such run folder" in res.output
