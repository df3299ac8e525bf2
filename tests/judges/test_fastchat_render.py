"""MT-bench's judge prompts rendered as FastChat renders them, byte for byte.

``data/fastchat_judge_prompts.jsonl`` holds five lines of FastChat's
``fastchat/llm_judge/data/judge_prompts.jsonl`` verbatim (Apache-2.0; see data/README.md).
`fastchat_messages` fills a line the way FastChat's ``run_judge_single`` / ``run_judge_pair``
do (``str.format`` with ``question`` / ``answer`` or, multi-turn, ``question_1`` ...
``answer_2``, plus ``ref_answer_1`` / ``ref_answer_2`` when there is a reference; the
template's ``system_prompt`` as the system message, the OpenAI judge path). Harness renders the
same prompts from ``examples/tasks/judge/*.yaml`` through the example task
``mtbench_fastchat.yaml`` (loaded from another folder, so its relative template paths are
resolved from the task file) and through ``judge-pairwise``'s request builder.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from harness import Message, Output, Prompt, Sample
from harness.yaml_task import load_yaml_task
from judges.pairwise import PairItem, pair_requests
from judges.templates import FENCE_NOTE, load_template

ROOT = Path(__file__).resolve().parents[2]
FASTCHAT = {
    (d := json.loads(line))["name"]: d
    for line in (Path(__file__).parent / "data" / "fastchat_judge_prompts.jsonl").open()
}
Q = ["How many legs do {three} spiders have?", "And how many do 4 spiders have?"]
A = ["24 legs: {answer_2} is not filled in here.", "32 legs.\n\n[The End of Assistant's Answer]"]
REF = ["3 x 8 = 24", "4 x 8 = 32"]


def fastchat_messages(name: str, **kwargs: str) -> list[dict[str, str]]:
    """A FastChat prompt line filled by FastChat's rules (format the user template, the
    system prompt as the system message)."""
    line = FASTCHAT[name]
    user = line["prompt_template"].format(**kwargs)
    return [{"role": "system", "content": line["system_prompt"]}, {"role": "user", "content": user}]


def _sample(target: Any) -> tuple[Sample, Output]:
    messages = (Message("system", "You are a helpful assistant."), Message("user", Q[0]))
    sample = Sample("q1", Prompt(messages=messages, text=Q[0]), target, followups=(Q[1],))
    return sample, Output(texts=[A[1]], turn_texts=[list(A)])


@pytest.fixture
def scorer(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.chdir(tmp_path)  # the task's judge/… paths must not depend on the cwd
    task = load_yaml_task(ROOT / "examples" / "tasks" / "mtbench_fastchat.yaml")
    return task.scorers[0]


def test_single_and_multi_turn_templates_render_as_fastchat(scorer: Any) -> None:
    sample, output = _sample(None)  # no reference: single-v1, single-v1-multi-turn
    turn1, turn2 = scorer.slots(sample, output)
    assert (turn1.turn, turn1.template.name) == (1, "file:single-v1.yaml")
    assert turn1.template.messages(**turn1.fields) == fastchat_messages(
        "single-v1", question=Q[0], answer=A[0]
    )
    assert (turn2.turn, turn2.template.name) == (2, "file:single-v1-multi-turn.yaml")
    assert turn2.template.messages(**turn2.fields) == fastchat_messages(
        "single-v1-multi-turn", question_1=Q[0], question_2=Q[1], answer_1=A[0], answer_2=A[1]
    )


def test_reference_templates_render_as_fastchat(scorer: Any) -> None:
    sample, output = _sample(list(REF))  # a reference per turn: the math templates
    turn1, turn2 = scorer.slots(sample, output)
    assert turn1.template.name == "file:single-math-v1.yaml"
    assert turn1.template.messages(**turn1.fields) == fastchat_messages(
        "single-math-v1", question=Q[0], answer=A[0], ref_answer_1=REF[0]
    )
    assert turn2.template.name == "file:single-math-v1-multi-turn.yaml"
    assert turn2.template.messages(**turn2.fields) == fastchat_messages(
        "single-math-v1-multi-turn",
        question_1=Q[0],
        question_2=Q[1],
        answer_1=A[0],
        answer_2=A[1],
        ref_answer_1=REF[0],
        ref_answer_2=REF[1],
    )


def test_pair_v2_renders_as_fastchat_in_both_orders() -> None:
    tmpl = load_template(ROOT / "examples" / "tasks" / "judge" / "pair-v2.yaml", "pairwise")
    item = PairItem("q1", Q[0], A[0], A[1], questions=[Q[0]], turns_a=[A[0]], turns_b=[A[1]])
    first, second = pair_requests(item, tmpl)
    assert first.messages == fastchat_messages(
        "pair-v2", question=Q[0], answer_a=A[0], answer_b=A[1]
    )
    assert second.messages == fastchat_messages(
        "pair-v2", question=Q[0], answer_a=A[1], answer_b=A[0]
    )
    assert (first.format, first.schema, first.max_tokens) == ("regex", None, 1024)  # free text


def test_the_fence_is_on_by_default_and_told_to_the_judge(tmp_path: Path) -> None:
    text = (ROOT / "examples" / "tasks" / "judge" / "single-v1.yaml").read_text()
    fenced = tmp_path / "single-v1-fenced.yaml"
    fenced.write_text(text.replace("fence: false", "fence: true"))
    plain = load_template(ROOT / "examples" / "tasks" / "judge" / "single-v1.yaml")
    on = load_template(fenced)
    assert plain.system == FASTCHAT["single-v1"]["system_prompt"]
    assert on.system == plain.system + " " + FENCE_NOTE and "<answer-XXXX>" in FENCE_NOTE
    assert FENCE_NOTE.replace(" ... ", " ").count(". ") == 0  # one sentence
    assert on.sha256 != plain.sha256 and on.wrap("x").startswith("<answer-")
    assert plain.wrap("x") == "x"


def test_template_paths_task_folder_then_builtin_then_cwd(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from harness import HarnessError

    data = ROOT / "examples" / "data" / "mtbench_style.jsonl"
    (tmp_path / "tasks").mkdir()
    (tmp_path / "cwd").mkdir()
    here = "user: 'here {question} {answer}'\n"
    (tmp_path / "tasks" / "t.yaml").write_text(here)
    (tmp_path / "cwd" / "t.yaml").write_text("user: 'cwd {question} {answer}'\n")
    (tmp_path / "cwd" / "only.yaml").write_text("user: 'only {question} {answer}'\n")
    (tmp_path / "tasks" / "rated").write_text("user: 'not the built-in {answer}'\n")
    monkeypatch.chdir(tmp_path / "cwd")

    def task(template: str) -> Any:
        path = tmp_path / "tasks" / "task.yaml"
        path.write_text(
            f"name: t\ndataset: {{path: {data}}}\nprompt: {{template: '{{turns[0]}}'}}\n"
            f"metrics: [{{name: judge, args: {{template: {template}}}}}]\n"
        )
        return load_yaml_task(path).scorers[0].template

    assert task("t.yaml").user.startswith("here ")  # the task's folder first
    assert task("rated").name == "file:rated"  # a file there wins over a built-in name
    assert task("rated_reference").name == "rated_reference"  # then the built-ins
    assert task("only.yaml").user.startswith("only ")  # then the current directory
    with pytest.raises(HarnessError, match=r"'nowhere\.yaml' is neither a built-in"):
        task("nowhere.yaml")
