"""The continuous-batching decoder against ``model.generate`` on the bundled model.

GPU-capable: on a GPU (``HARNESS_TEST_GPU=1``) the model runs there, in float32 so the
token-for-token comparisons with ``model.generate`` hold.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from harness import DataOptions, get_task, load_dataset
from harness._types import GenerationParams
from harness.backends._hf_decode import Sampling, common_prefix, decode
from harness.backends._hf_draft import NgramDraft, accepted

pytestmark = pytest.mark.gpu_capable


def test_common_prefix() -> None:
    assert common_prefix([[1, 2, 3, 4], [1, 2, 3, 9], [1, 2, 5]]) == 2
    assert common_prefix([[1, 2, 3], [1, 2, 3]]) == 2  # each row keeps one token to encode
    assert common_prefix([[7], [1, 2]]) == 0
    assert common_prefix([]) == 0


def test_ngram_draft_proposes_what_followed_last_time() -> None:
    d = NgramDraft([1, 2, 3, 4, 1, 2])
    assert d.propose(3) == [3, 4, 1]  # (4, 1, 2) is new; (1, 2) was followed by 3, 4, 1
    d.push(3)
    assert d.propose(4) == [4, 1, 2, 3]  # the trigram (1, 2, 3) matches
    d.push(9)
    assert d.propose(4) == []  # (3, 9) and (2, 3, 9) never occurred before
    assert d.propose(0) == []


def test_accepted_keeps_the_matching_run_then_the_models_token() -> None:
    assert accepted([5, 6, 7], [5, 6, 9, 10]) == [5, 6, 9]
    assert accepted([5, 6], [5, 6, 8]) == [5, 6, 8]
    assert accepted([], [4]) == [4]
    assert accepted([7], [1, 2]) == [1]


@pytest.fixture(scope="module")
def hf(bundled_model: Any) -> Any:
    from harness.backends.hf import HFBackend

    return HFBackend(chat_template=False, batch_size=2, dtype="float32")


@pytest.fixture(scope="module")
def gsm_prompts(data_dir: Path) -> list[str]:
    ds = load_dataset(get_task("gsm8k"), DataOptions(data_dir=data_dir, limit=5))
    return [s.prompt.text for s in ds.samples]


def _reference(hf: Any, ids: list[list[int]], n: int) -> list[list[int]]:
    import torch

    out = []
    for p in ids:
        with torch.inference_mode():
            g = hf.model.generate(
                torch.tensor([p], device=hf.device),
                max_new_tokens=n,
                do_sample=False,
                pad_token_id=0,
            )
        out.append(g[0, len(p) :].tolist())
    return out


@pytest.mark.slow
def test_greedy_matches_generate_with_ragged_finishes(hf: Any, gsm_prompts: list[str]) -> None:
    ids = [hf.tokenizer(p)["input_ids"] for p in gsm_prompts]
    assert common_prefix(ids) > 500  # the five shared exemplars are encoded once
    ref = _reference(hf, ids, 14)
    got = {}
    for f in decode(
        hf.model,
        ids,
        device=hf.device,
        max_new_tokens=14,
        batch_size=2,
        eos_ids=hf._eos_ids(),
        pad_id=0,
        stopped=lambda out: False,
    ):
        got[f.index] = f
    assert sorted(got) == list(range(len(ids)))
    for i in got:
        assert got[i].ids == ref[i][:14], i
        assert got[i].reason == "length" and got[i].tokens_in == len(ids[i])
    # A stop rule that ends rows at different steps, so finished rows leave a batch of 2 while
    # the other row is mid-way, and waiting prompts join it.
    short = {}
    for f in decode(
        hf.model,
        ids,
        device=hf.device,
        max_new_tokens=14,
        batch_size=2,
        eos_ids=hf._eos_ids(),
        pad_id=0,
        stopped=lambda out: len(out) >= 3 + sum(out) % 9,
    ):
        short[f.index] = f
    for i, f in short.items():
        assert f.ids == ref[i][: len(f.ids)], i
        assert f.reason == ("length" if len(f.ids) == 14 else "stop")
    assert len({len(f.ids) for f in short.values()}) > 1, "rows should finish at different steps"


@pytest.mark.slow
def test_backend_paths_agree_with_stop_strings(hf: Any, gsm_prompts: list[str]) -> None:
    from harness.backends.hf import HFBackend

    params = GenerationParams(max_new_tokens=40, stop=("\n",))
    fast = dict(hf.generate(gsm_prompts, params))
    padded = HFBackend(
        resolved=hf.resolved, chat_template=False, batch_size=2, dtype="float32", continuous=False
    )
    slow = dict(padded.generate(gsm_prompts, params))
    assert [fast[i].text for i in range(5)] == [slow[i].text for i in range(5)]
    assert all("\n" not in g.text for g in fast.values())
    assert any(g.finish_reason == "stop" for g in fast.values())


@pytest.mark.slow
def test_adapter_and_base_on_the_continuous_path(
    hf: Any, gsm_prompts: list[str], tmp_path: Path
) -> None:
    from harness import load_adapter
    from harness.backends.hf import HFBackend
    from tests.harness._lora import make_lora

    lora = make_lora(hf.resolved.path, tmp_path / "lora", scale=0.5)
    spec = load_adapter(lora, name="x")
    params = GenerationParams(max_new_tokens=10)
    backends = [
        HFBackend(
            resolved=hf.resolved, chat_template=False, batch_size=2, dtype="float32", continuous=c
        )
        for c in (True, False)
    ]
    outs = []
    for b in backends:
        b.prepare([spec])
        base = dict(b.generate(gsm_prompts[:3], params))
        tuned = dict(b.generate(gsm_prompts[:3], params, adapter=spec))
        outs.append(([base[i].text for i in range(3)], [tuned[i].text for i in range(3)]))
    assert outs[0] == outs[1]
    base_texts, tuned_texts = outs[0]
    assert base_texts != tuned_texts  # the adapter really changes the outputs


@pytest.mark.slow
def test_sampling_does_not_depend_on_batching(hf: Any, gsm_prompts: list[str]) -> None:
    ids = [hf.tokenizer(p)["input_ids"] for p in gsm_prompts[:3]] * 2  # repeated prompts

    def run(batch_size: int, seed: int) -> dict[int, list[int]]:
        return {
            f.index: f.ids
            for f in decode(
                hf.model,
                ids,
                device=hf.device,
                max_new_tokens=8,
                batch_size=batch_size,
                eos_ids=hf._eos_ids(),
                pad_id=0,
                sampling=Sampling(temperature=1.0, top_p=0.95, seed=seed),
            )
        }

    a, b, c = run(1, 0), run(4, 0), run(4, 1)
    assert a == b
    assert a != c
    assert a[0] != a[3]  # the same prompt twice gets two different samples


@pytest.mark.slow
def test_speculation_gives_greedy_output_in_fewer_passes(hf: Any) -> None:
    texts = ["The sky is blue. " * 8, "1, 2, 3, 4, 5, 6, 7, 8, 9, 10, " * 2 + "1, 2, 3"]
    ids = [hf.tokenizer(t)["input_ids"] for t in texts]
    passes = []

    def run(speculate: int) -> dict[int, list[int]]:
        forward = hf.model.forward
        calls = [0]

        def counted(*args: Any, **kwargs: Any) -> Any:
            calls[0] += 1
            return forward(*args, **kwargs)

        hf.model.forward = counted
        try:
            out = {
                f.index: f.ids
                for f in decode(
                    hf.model,
                    ids,
                    device=hf.device,
                    max_new_tokens=24,
                    batch_size=2,
                    eos_ids=hf._eos_ids(),
                    pad_id=0,
                    speculate_tokens=speculate,
                )
            }
        finally:
            del hf.model.forward
        passes.append(calls[0])
        return out

    assert run(32) == run(0)
    assert passes[0] < passes[1] * 0.5, passes  # the rows repeat their prompts


@pytest.mark.slow
def test_prompts_longer_than_the_context_get_an_error_not_a_run(hf: Any) -> None:
    limit = hf.context_length()
    assert limit == 8192  # SmolLM2-135M
    long_prompt = "word " * (limit + 10)
    params = GenerationParams(max_new_tokens=6)
    out = dict(hf.generate(["Name a color:", long_prompt, "Name a fruit:"], params))
    assert sorted(out) == [0, 1, 2]
    assert out[1].finish_reason == "error" and f"at most {limit}" in (out[1].error or "")
    assert out[1].tokens_in > limit
    assert out[0].error is None and out[2].error is None and out[0].tokens_out > 0


@pytest.mark.slow
def test_rows_stop_at_the_context_end(hf: Any) -> None:
    ids = [hf.tokenizer("The sky is blue. " * 8)["input_ids"]] * 2
    n = len(ids[0])
    done = list(
        decode(
            hf.model,
            ids,
            device=hf.device,
            max_new_tokens=50,
            batch_size=2,
            eos_ids=hf._eos_ids(),
            pad_id=0,
            max_length=n + 5,
        )
    )
    assert [len(f.ids) for f in done] == [5, 5] and {f.reason for f in done} == {"length"}
