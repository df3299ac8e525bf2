"""Report plots: one scale per plot, primary metrics only (no rate bars), x labels whose drawn
boxes never overlap, hatched bars for metrics scored on under half the items."""

from __future__ import annotations

import itertools
from pathlib import Path

from _report_fixtures import judged_runs, suite_runs
from _runs_factory import make_run

from harness import load_runs
from harness.report import build_report
from harness.report._plots import all_plots, bars_figure


def _label_boxes(fig, ax) -> list:
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    return [t.get_window_extent(renderer) for t in ax.get_xticklabels() if t.get_text()]


def _assert_apart(boxes: list) -> None:
    for a, b in itertools.combinations(boxes, 2):
        assert not a.overlaps(b), (a, b)


def test_plots_are_one_scale_each_and_never_bar_a_rate(tmp_path: Path) -> None:
    rep = build_report(load_runs([judged_runs(tmp_path)]))
    plots = all_plots(rep)
    # judge_score is 1-10, the RAGAS metrics 0-1: two bar plots, two delta plots
    assert sorted(plots) == [
        "bars_instruct_0-1",
        "bars_instruct_1-10",
        "deltas_0-1",
        "deltas_1-10",
    ]
    fig, ax = bars_figure(rep, "instruct", "0-1")
    names = [t.get_text().replace("\n", "") for t in ax.get_xticklabels()]
    assert names == ["answer_correctness", "semantic_similarity"]
    assert not any("rate" in n for n in names)
    _assert_apart(_label_boxes(fig, ax))


def test_long_labels_of_many_metrics_never_overlap(tmp_path: Path) -> None:
    names = [f"a_rather_long_metric_name_{k}" for k in range(6)]
    values = {m: [float(i % (k + 2) == 0) for i in range(20)] for k, m in enumerate(names)}
    make_run(
        tmp_path / "runs",
        "wide",
        values.pop(names[0]),
        task="wide",
        metric=names[0],
        extra_metrics=values,
        primary_metrics=names,
    )
    rep = build_report(load_runs([tmp_path / "runs"]))
    fig, ax = bars_figure(rep, "wide", "0-1")
    boxes = _label_boxes(fig, ax)
    assert len(boxes) == 6
    _assert_apart(boxes)


def test_suite_plots_one_per_task(tmp_path: Path) -> None:
    rep = build_report(load_runs([suite_runs(tmp_path)]))
    plots = all_plots(rep)
    bars = [k for k in plots if k.startswith("bars_")]
    assert len(bars) == 3 and all(k.endswith("_0-1") for k in bars)
    for task in ("gsm8k", "ifeval", "arc_challenge_with_a_long_name"):
        fig, ax = bars_figure(rep, task, "0-1")
        assert len(ax.get_xticklabels()) == 2  # the 2 primary metrics, no no-match rates
        _assert_apart(_label_boxes(fig, ax))
