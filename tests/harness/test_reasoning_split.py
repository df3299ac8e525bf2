"""The reasoning split over the fake backend: the answer is scored, never the thinking.

A scripted reasoning model answers five GSM8K items: closed thinking full of decoy numbers,
thinking that holds the right number while the answer does not, an unclosed (cut) thinking
block, no thinking at all, and an answer that quotes the end marker.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from harness import DataOptions, RunContext, evaluate, get_task
from harness._output_split import LENGTH_CUT_RATE, TRUNCATED_RATE
from harness.backends.fake import FakeBackend
from harness.reasoning import ReasoningOptions, parse_markers, resolve_splitter, split_text

SCRIPT = {
    "chat_template": "{{ messages }} (thinks in <think> ... </think>)",  # default markers
    "answers": [
        {  # decoys in the thinking: strict (first ####) and flexible (last number) would differ
            "contains": "Janet",
            "text": "<think>16 - 3 - 4 = 9 eggs. #### 9? No, 9 * 2 = 18; not 36 or 32.</think>"
            "She makes $18 every day. #### 18",
        },
        {  # the thinking finds 3; the answer gives up: no match, though the raw text has 3
            "contains": "robe",
            "text": "<think>2 / 2 = 1 white, 2 + 1 = 3 bolts. #### 3</think>I cannot say.",
        },
        {  # cut by max_new_tokens inside the thinking: it had reached the right number
            "contains": "flipping a house",
            "text": "<think>80000 + 50000 = 130000; the value rose to 200000, so 70000 profit",
            "finish_reason": "length",
        },
        {"contains": "sprints", "text": "3 * 3 * 60 = 540. #### 540"},  # no thinking at all
        {  # the answer quotes the end marker: the split is at the first one only
            "contains": "Wendi",
            "text": "<think>3 cups each, 20 chickens</think>Close with </think>. 20 * 1 = 20. "
            "#### 20",
        },
    ],
}


def _run(tmp_path: Path, script: dict, options: ReasoningOptions = ReasoningOptions()):  # type: ignore[no-untyped-def]
    path = tmp_path / "reasoner.json"
    path.write_text(json.dumps(script))
    backend = FakeBackend(model=str(path))
    ctx = RunContext(runs_dir=tmp_path / "runs", reasoning=options)
    [res] = evaluate(
        get_task("gsm8k", num_fewshot=0), backend, data=DataOptions(limit=5), context=ctx
    )
    return res


def test_split_rules() -> None:
    m = ("<think>", "</think>")
    closed = split_text("  <think> 1 + 1 </think>\n#### 2", m)
    assert (closed.reasoning, closed.answer, closed.truncated) == ("1 + 1", "#### 2", False)
    cut = split_text("<think>still thinking 7", m)
    assert (cut.reasoning, cut.answer, cut.truncated) == ("still thinking 7", "", True)
    absent = split_text("The answer is 4; models write <think> and </think> tags.", m)
    assert (absent.reasoning, absent.answer) == (None, absent.raw)
    quoted = split_text("<think>a</think>The tag </think> closes it.", m)
    assert quoted.answer == "The tag </think> closes it."
    opened = split_text("thinking 5</think>#### 6", m, opened=True)  # the template opened it
    assert (opened.reasoning, opened.answer) == ("thinking 5", "#### 6")
    assert split_text("thinking 5</think>#### 6", m).answer == "thinking 5</think>#### 6"


def test_markers_resolution_order() -> None:
    flag = ReasoningOptions(markers=("<r>", "</r>"))
    both = "x <think> y </think>"
    assert resolve_splitter(flag, ("<t>", "</t>"), None, both).source == "flag"
    assert resolve_splitter(ReasoningOptions(), ("<t>", "</t>"), ("a", "b"), both).markers == (
        "<t>",
        "</t>",
    )
    assert resolve_splitter(ReasoningOptions(), None, ("a", "b"), both).source == "model"
    assert resolve_splitter(ReasoningOptions(), None, None, both).markers == ("<think>", "</think>")
    assert resolve_splitter(ReasoningOptions(), None, None, "plain {{ x }}").markers is None
    off = resolve_splitter(ReasoningOptions(split=False), ("<t>", "</t>"), None, both)
    assert (off.markers, off.source) == (None, "off")
    assert parse_markers(" <a> , </a> ") == ("<a>", "</a>")
    with pytest.raises(ValueError, match="START,END"):
        parse_markers("<think>")


def test_gsm8k_scores_the_answer_not_the_thinking(tmp_path: Path) -> None:
    res = _run(tmp_path, SCRIPT)
    rec, samples = res.record, {s.id: s for s in res.samples}
    assert rec.reasoning is not None and rec.reasoning.source == "chat template"
    strict = {i: s.scores["strict"].answer for i, s in samples.items()}
    flexible = {i: s.scores["flexible"].answer for i, s in samples.items()}
    # Janet: strict would take the thinking's "#### 9" first, flexible no decoy after 18.
    assert strict["test-0"] == "18" and flexible["test-0"] == "18"
    # robe: the right number is only in the thinking; the answer has none.
    assert strict["test-1"] is None and flexible["test-1"] is None
    assert samples["test-1"].scores["flexible"].values["flexible_match"] == 0.0
    # cut thinking: empty answer, no match, counted
    cut = samples["test-2"]
    assert cut.outputs == [""] and cut.scores["strict"].values["strict_match"] == 0.0
    assert cut.scores["flexible"].values["flexible_match"] == 0.0
    assert cut.output_metrics == {TRUNCATED_RATE: 1.0, LENGTH_CUT_RATE: 1.0}
    assert cut.reasoning == [SCRIPT["answers"][2]["text"].removeprefix("<think>")]
    assert strict["test-3"] == "540" and samples["test-3"].reasoning == [None]
    assert samples["test-4"].outputs == ["Close with </think>. 20 * 1 = 20. #### 20"]
    assert strict["test-4"] == "20"
    assert rec.metrics["strict_match"].value == pytest.approx(3 / 5)
    assert rec.metrics["flexible_match"].value == pytest.approx(3 / 5)
    assert rec.metrics[TRUNCATED_RATE].value == pytest.approx(1 / 5)
    assert rec.metrics[LENGTH_CUT_RATE].value == pytest.approx(1 / 5)
    assert (rec.reasoning.truncated, rec.reasoning.with_reasoning) == (1, 4)
    # raw output, reasoning and answer are all in samples.jsonl
    line = json.loads((res.folder / "samples.jsonl").read_text().splitlines()[0])
    assert line["raw_outputs"] == [SCRIPT["answers"][0]["text"]]
    assert line["reasoning"] == ["16 - 3 - 4 = 9 eggs. #### 9? No, 9 * 2 = 18; not 36 or 32."]
    assert line["outputs"] == ["She makes $18 every day. #### 18"]
    # thinking tokens counted apart (the fake's tokenizer: whitespace words)
    assert rec.usage.model_reasoning_tokens is not None
    assert 0 < rec.usage.model_reasoning_tokens < rec.usage.model_tokens_out
    assert rec.usage.reasoning_tokens_method == "tokenizer"


def test_without_split_the_thinking_is_scored(tmp_path: Path) -> None:
    """The same outputs with --no-reasoning-split: the decoys count (what the split prevents)."""
    res = _run(tmp_path, SCRIPT, ReasoningOptions(split=False))
    strict = {s.id: s.scores["strict"].answer for s in res.samples}
    assert strict["test-0"] == "9" and strict["test-1"] == "3"
    assert res.record.reasoning is not None and res.record.reasoning.source == "off"
    assert res.record.metrics[TRUNCATED_RATE].value == 0.0
    assert res.samples[0].raw_outputs is None


def test_template_without_markers_does_not_split_unless_asked(tmp_path: Path) -> None:
    script = {**SCRIPT, "chat_template": "{{ messages }}"}
    assert _run(tmp_path, script).record.reasoning.source == "none"  # type: ignore[union-attr]
    flagged = _run(tmp_path, script, ReasoningOptions(markers=("<think>", "</think>")))
    assert flagged.record.reasoning.source == "flag"  # type: ignore[union-attr]
    assert flagged.record.metrics["strict_match"].value == pytest.approx(3 / 5)


def test_gate_max_on_reasoning_truncated_rate(tmp_path: Path) -> None:
    from harness.gate import GatePolicy
    from harness.gate import evaluate as gate
    from harness.runstore import load_run

    res = _run(tmp_path, SCRIPT)
    run = load_run(res.folder)
    assert run.values(TRUNCATED_RATE) == {
        "test-0": 0.0,
        "test-1": 0.0,
        "test-2": 1.0,
        "test-3": 0.0,
        "test-4": 0.0,
    }
    policy = GatePolicy.model_validate(
        {"checks": [{"task": "gsm8k", "metric": TRUNCATED_RATE, "max": 0.0}]}
    )
    result = gate(policy, [run])
    assert [r.status for r in result.results] != ["pass"] and result.exit_code == 1
    policy = GatePolicy.model_validate(
        {"checks": [{"task": "gsm8k", "metric": TRUNCATED_RATE, "max": 1.0}]}
    )
    assert gate(policy, [run]).exit_code == 0


def test_yaml_task_names_its_markers(tmp_path: Path) -> None:
    (tmp_path / "d.jsonl").write_text('{"q": "2 + 2", "a": "4"}\n')
    (tmp_path / "t.yaml").write_text(
        "name: think_yaml\n"
        "dataset: {path: d.jsonl, target: a}\n"
        'prompt: {template: "{q} ="}\n'
        "reasoning_markers: ['<r>', '</r>']\n"
        "metrics: [exact_match]\n"
    )
    task = get_task(str(tmp_path / "t.yaml"))
    assert task.reasoning_markers == ("<r>", "</r>")
    (tmp_path / "s.json").write_text(json.dumps({"default": "<r>maybe 5</r>4"}))
    backend = FakeBackend(model=str(tmp_path / "s.json"))
    [res] = evaluate(task, backend, context=RunContext(runs_dir=None))
    assert res.record.reasoning is not None and res.record.reasoning.source == "task"
    assert res.samples[0].outputs == ["4"] and res.samples[0].reasoning == ["maybe 5"]
