"""Chat-template controls: --chat-template-kwargs, --fewshot-as-multiturn, system merging.

A small local tokenizer whose template honours ``enable_thinking`` (tests/_think_tokenizer.py)
is rendered both ways; then ``harness run`` on the HF backend with a tiny Llama behind that
tokenizer shows, through ``harness runs show``, the rendered prompt changing with each flag,
the settings recorded, and a new cache key for each.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from harness._prompting import fewshot_form
from harness._types import Message, Prompt
from harness.backends._chat import ChatState, render_chat, template_source
from harness.cli import cli
from harness.reasoning import ReasoningOptions, resolve_splitter
from tests._think_tokenizer import NO_SYSTEM_TEMPLATE, think_model_dir, think_tokenizer

QUESTION = Prompt.plain("Question: 2 + 2 =")


def test_template_renders_both_ways() -> None:
    tok = think_tokenizer()
    thinking = render_chat(tok, QUESTION, ChatState())
    direct = render_chat(tok, QUESTION, ChatState(kwargs={"enable_thinking": False}))
    assert thinking == "<|im_start|>user\nQuestion: 2 + 2 =<|im_end|>\n<|im_start|>assistant\n"
    assert direct == thinking + "<think>\n\n</think>\n\n"
    # the template mentions both markers: outputs are split at them by default
    split = resolve_splitter(ReasoningOptions(), None, None, template_source(tok))
    assert (split.markers, split.source) == (("<think>", "</think>"), "chat template")


def test_system_turn_merged_when_the_template_rejects_it(
    capsys: pytest.CaptureFixture[str],
) -> None:
    tok = think_tokenizer(NO_SYSTEM_TEMPLATE)
    state = ChatState()
    prompt = Prompt.plain("Question: 1 + 1 =", system="Be brief.")
    first = render_chat(tok, prompt, state)
    assert first.startswith("<|im_start|>user\nBe brief.\n\nQuestion: 1 + 1 =<|im_end|>")
    assert state.system_merged
    render_chat(tok, prompt, state)  # said once, not per prompt
    assert capsys.readouterr().err.count("rejects a system role") == 1


def test_fewshot_in_one_user_turn_unless_multiturn() -> None:
    msgs = (
        Message("user", "Question: 1 + 1\nAnswer:"),
        Message("assistant", "#### 2"),
        Message("user", "Question: 2 + 2\nAnswer:"),
    )
    prompt = Prompt(msgs, "Question: 1 + 1\nAnswer: #### 2\n\nQuestion: 2 + 2\nAnswer:", fewshot=1)
    single = fewshot_form(prompt, multiturn=False)
    assert [m.role for m in single.messages] == ["user"]
    assert single.messages[0].content == prompt.text  # the completion-style text, one turn
    assert fewshot_form(prompt, multiturn=True) is prompt


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return think_model_dir(tmp_path_factory.mktemp("think") / "model")


def _run(tmp_path: Path, model: Path, *flags: str) -> tuple[dict, str]:
    runner = CliRunner(env={"COLUMNS": "200", "NO_COLOR": "1"})
    args = ["run", "--task", "gsm8k", "--num-fewshot", "1", "--limit", "1", "--backend", "hf"]
    args += ["--model", str(model), "--max-new-tokens", "3", "--json"]
    args += ["-o", str(tmp_path / "runs"), "--cache", str(tmp_path / "c.sqlite"), *flags]
    res = runner.invoke(cli, args, catch_exceptions=False)
    assert res.exit_code == 0, res.output
    [summary] = json.loads(res.stdout)
    show = runner.invoke(
        cli, ["runs", "-o", str(tmp_path / "runs"), "show", summary["run_id"], "--full-prompt"]
    )
    assert show.exit_code == 0, show.output
    return summary, show.stdout


def test_flags_change_the_rendered_prompt_and_the_cache_key(
    tmp_path: Path, model_dir: Path
) -> None:
    plain, shown = _run(tmp_path, model_dir)
    assert "chat_template_kwargs none · fewshot_as_multiturn false" in shown
    assert "thinking markers <think>,</think> (chat template)" in shown
    prompt = next(line for line in shown.splitlines() if line.startswith("prompt:"))
    assert prompt.count("<|im_start|>") == 2  # the exemplar and the question in one user turn
    assert prompt.endswith('<|im_start|>assistant\\n"')

    off, shown = _run(tmp_path, model_dir, "--chat-template-kwargs", '{"enable_thinking": false}')
    assert 'chat_template_kwargs {"enable_thinking": false}' in shown
    prompt = next(line for line in shown.splitlines() if line.startswith("prompt:"))
    assert prompt.endswith('<|im_start|>assistant\\n<think>\\n\\n</think>\\n\\n"')
    assert off["counts"]["model_calls"] == 1  # another prompt, another key: not from the cache

    multi, shown = _run(tmp_path, model_dir, "--fewshot-as-multiturn")
    assert "fewshot_as_multiturn true" in shown
    prompt = next(line for line in shown.splitlines() if line.startswith("prompt:"))
    assert prompt.count("<|im_start|>") == 4  # user, assistant (the exemplar), user, assistant
    assert multi["counts"]["model_calls"] == 1

    again, _ = _run(tmp_path, model_dir, "--chat-template-kwargs", '{"enable_thinking": false}')
    assert (again["counts"]["model_calls"], again["counts"]["cache_hits"]) == (0, 1)
    record = json.loads((Path(off["folder"]) / "run.json").read_text())
    assert record["prompting"]["chat_template_kwargs"] == {"enable_thinking": False}
    assert plain["counts"]["model_calls"] == 1


def test_bad_chat_template_kwargs_is_one_line_exit_2(tmp_path: Path) -> None:
    res = CliRunner().invoke(
        cli, ["run", "--task", "gsm8k", "--chat-template-kwargs", "{enable_thinking: no}"]
    )
    assert res.exit_code == 2
    assert "is not JSON" in res.output
