"""The scripted fake backend: script format, answers, errors, delays, adapters, cache identity."""

from __future__ import annotations

import hashlib
import time
from pathlib import Path

import pytest

from harness import (
    DataOptions,
    GenerationParams,
    Prompt,
    RequestCache,
    RunContext,
    evaluate,
    get_task,
)
from harness._errors import HarnessError, ModelError
from harness.backends import AdapterSpec, LoglikelihoodRequest, backends, build_backend
from harness.backends.fake import FakeBackend

SCRIPT = """\
default: "no idea"
answers:
  - contains: "ducks"
    text: "9 * 2 = 18. #### 18"
  - prompt: "Say hi"
    text: "hi there"
    tokens_in: 7
    tokens_out: 2
    finish_reason: length
  - contains: "robe"
    error: "HTTP 503 from server"
loglikelihood:
  per_token: -0.5
  answers:
    - continuation: " positive"
      contains: "love"
      logprob: -0.1
    - continuation: " broken"
      error: "scoring failed"
adapters:
  tuned:
    answers:
      - contains: "ducks"
        text: "#### 20"
"""

PARAMS = GenerationParams(max_new_tokens=50)


def _backend(
    tmp_path: Path, text: str = SCRIPT, name: str = "script.yaml", **kw: object
) -> FakeBackend:
    path = tmp_path / name
    path.write_text(text)
    return FakeBackend(model=str(path), **kw)  # type: ignore[arg-type]


def _adapter(name: str) -> AdapterSpec:
    return AdapterSpec(name=name, path=Path("/nonexistent") / name, sha256=name * 8)


def _generate(
    backend: FakeBackend,
    prompts: list[str],
    adapter: AdapterSpec | None = None,
    params: GenerationParams = PARAMS,
) -> list:
    out = dict(backend.generate(prompts, params, adapter))
    assert sorted(out) == list(range(len(prompts)))
    return [out[i] for i in range(len(prompts))]


def test_registered_and_built_from_cli_options(tmp_path: Path) -> None:
    path = tmp_path / "s.yaml"
    path.write_text(SCRIPT)
    backend = build_backend("fake", model=str(path), batch_size=4, chat_template=None)
    assert isinstance(backend, FakeBackend) and backends.get("fake") is FakeBackend
    with pytest.raises(HarnessError, match=r"does not take device \(--device\)"):
        build_backend("fake", model=str(path), device="cuda")
    assert backend.batch_size == 4 and backend.chat_template is False
    assert backend.supports_adapters and backend.supports_loglikelihood


def test_model_info_hashes_the_script_bytes(tmp_path: Path) -> None:
    backend = _backend(tmp_path, name="my-script.yaml")
    info = backend.model_info()
    assert info.id == "fake:my-script"
    assert info.path == str((tmp_path / "my-script.yaml").resolve())
    assert info.weight_sha256 == hashlib.sha256(SCRIPT.encode()).hexdigest()
    assert (info.dtype, info.device) == (None, "fake")
    other = _backend(tmp_path, SCRIPT + "# changed\n", name="my-script.yaml")
    assert other.model_info().weight_sha256 != info.weight_sha256


def test_render_plain_text_or_chat_messages(tmp_path: Path) -> None:
    prompt = Prompt.plain("What is 2+2?", system="Be brief.")
    assert _backend(tmp_path).render(prompt) == "Be brief.\n\nWhat is 2+2?"
    assert _backend(tmp_path, chat_template=True).render(prompt) == [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "What is 2+2?"},
    ]


def test_rules_then_default_with_token_counts(tmp_path: Path) -> None:
    gens = _generate(_backend(tmp_path), ["How many ducks lay eggs?", "Say hi", "Other thing"])
    assert [g.text for g in gens] == ["9 * 2 = 18. #### 18", "hi there", "no idea"]
    assert [(g.tokens_in, g.tokens_out) for g in gens] == [(5, 7), (7, 2), (2, 2)]
    assert [g.finish_reason for g in gens] == ["stop", "length", "stop"]
    assert all(g.error is None for g in gens)


def test_exact_prompt_rule_needs_the_whole_prompt(tmp_path: Path) -> None:
    assert _generate(_backend(tmp_path), ["Say hi!"])[0].text == "no idea"


def test_chat_prompts_match_on_message_contents(tmp_path: Path) -> None:
    backend = _backend(tmp_path, chat_template=True)
    rendered = backend.render(Prompt.plain("Say hi"))
    assert _generate(backend, [rendered])[0].text == "hi there"


def test_injected_error_is_yielded_not_raised(tmp_path: Path) -> None:
    (gen,) = _generate(_backend(tmp_path), ["A robe takes 2 bolts"])
    assert (gen.text, gen.finish_reason, gen.error) == ("", "error", "HTTP 503 from server")


def test_stop_sequences_and_max_new_tokens_cut_the_answer(tmp_path: Path) -> None:
    backend = _backend(tmp_path)
    stopped = _generate(backend, ["ducks"], params=GenerationParams(stop=("####",)))[0]
    assert (stopped.text, stopped.tokens_out, stopped.finish_reason) == ("9 * 2 = 18. ", 5, "stop")
    short = _generate(backend, ["ducks"], params=GenerationParams(max_new_tokens=3))[0]
    assert (short.text, short.tokens_out, short.finish_reason) == ("9 * 2", 3, "length")


def test_delays_reorder_results_like_concurrent_requests(tmp_path: Path) -> None:
    script = "answers:\n  - contains: slow\n    text: late\n    delay_s: 0.2\n"
    backend = _backend(tmp_path, script)
    t0 = time.monotonic()
    order = [i for i, _ in backend.generate(["slow one", "fast one"], PARAMS)]
    assert order == [1, 0] and time.monotonic() - t0 >= 0.2


def test_adapter_section_overrides_and_inherits(tmp_path: Path) -> None:
    backend = _backend(tmp_path)
    prompts = ["ducks?", "Say hi", "Other"]
    tuned = _generate(backend, prompts, _adapter("tuned"))
    assert [g.text for g in tuned] == ["#### 20", "no idea", "no idea"]  # answers replaced
    untabled = _generate(backend, prompts, _adapter("unknown"))
    assert [g.text for g in untabled] == ["9 * 2 = 18. #### 18", "hi there", "no idea"]
    assert [(c.prompt, c.adapter) for c in backend.calls[:1]] == [("ducks?", "tuned")]
    assert len(backend.calls) == 6


def test_loglikelihood_rules_default_and_errors(tmp_path: Path) -> None:
    backend = _backend(tmp_path)
    reqs = [
        LoglikelihoodRequest("I love it. Sentiment:", " positive"),
        LoglikelihoodRequest("I hate it. Sentiment:", " positive"),
        LoglikelihoodRequest("I love it. Sentiment:", " very negative"),
        LoglikelihoodRequest("x", " broken"),
    ]
    out = dict(backend.loglikelihood(reqs))
    assert [(out[i].logprob, out[i].tokens) for i in range(3)] == [(-0.1, 1), (-0.5, 1), (-1.0, 2)]
    assert out[3].error == "scoring failed" and all(out[i].error is None for i in range(3))
    assert backend.calls[0].kind == "loglikelihood" and backend.calls[0].continuation == " positive"


def test_json_script_and_default_shorthand(tmp_path: Path) -> None:
    backend = _backend(tmp_path, '{"default": {"text": "x y", "tokens_out": 9}}', name="s.json")
    (gen,) = _generate(backend, ["anything"])
    assert (gen.text, gen.tokens_out) == ("x y", 9)


@pytest.mark.parametrize(
    ("text", "name", "message"),
    [
        ("answers: [\n", "bad.yaml", "is not valid YAML at line 2: expected the node content"),
        ("{", "bad.json", "is not valid JSON (Expecting property name"),
        ("- a\n- b\n", "list.yaml", "must be a mapping"),
        (
            "answers:\n  - text: x\n  - prompt: a\n    contains: b\ndefualt: y\n",
            "schema.yaml",
            (
                ": answers.0: Value error, give exactly one of `prompt` or `contains`; "
                "answers.1: Value error, give exactly one of `prompt` or `contains`; "
                "defualt: Extra inputs are not permitted"
            ),
        ),
    ],
)
def test_malformed_script_is_one_clear_line(
    tmp_path: Path, text: str, name: str, message: str
) -> None:
    with pytest.raises(ModelError) as e:
        _backend(tmp_path, text, name=name)
    assert str(e.value).startswith(f"fake backend script {tmp_path / name}")
    assert message in str(e.value) and "\n" not in str(e.value)


def test_missing_script_and_no_script(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match=r"script .*nope\.yaml cannot be read \(No such file"):
        FakeBackend(model=str(tmp_path / "nope.yaml"))
    with pytest.raises(ModelError, match="--backend fake needs --model SCRIPT"):
        FakeBackend()


def test_runner_caches_per_script(tmp_path: Path, data_dir: Path) -> None:
    task = get_task("gsm8k", num_fewshot=0)
    data = DataOptions(data_dir=data_dir, limit=2)
    cache = RequestCache(tmp_path / "cache.sqlite")

    def run(script: str) -> tuple[int, int, list[str]]:
        backend = _backend(tmp_path, script)
        res = evaluate(task, backend, data=data, context=RunContext(cache=cache, runs_dir=None))[0]
        counts = res.record.counts
        return counts.model_calls, counts.cache_hits, [s.outputs[0] for s in res.samples]

    assert run("default: '#### 1'\n") == (2, 0, ["#### 1", "#### 1"])
    assert run("default: '#### 1'\n") == (0, 2, ["#### 1", "#### 1"])
    assert run("default: '#### 2'\n") == (2, 0, ["#### 2", "#### 2"])


def test_the_documented_example_is_a_valid_script(tmp_path: Path) -> None:
    import sys
    import textwrap

    doc = sys.modules[FakeBackend.__module__].__doc__ or ""
    example = doc.split("Example::\n")[1].split("\n\nPlain prompts")[0]
    backend = _backend(tmp_path, textwrap.dedent(example))
    assert backend.script.adapters["my-adapter"].answers[0].text == "#### 20"
    assert _generate(backend, ["A robe?"])[0].error == "HTTP 503 from server"
