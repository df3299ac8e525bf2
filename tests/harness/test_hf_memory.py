"""The memory-lean HF paths on a tiny random Llama (real transformers, milliseconds on CPU):
layer-by-layer KV rebuilds still match ``model.generate``, a rerun of some prompts samples what
the full run sampled, and position-selected log-likelihoods equal a full ``log_softmax``."""

from __future__ import annotations

from typing import Any

import pytest
import torch

from harness.backends._hf_decode import Sampling, decode
from harness.backends._hf_loglik import score_batch
from tests._tiny_llama import tiny_llama


@pytest.fixture(scope="module")
def tiny() -> Any:
    return tiny_llama()


def _prompts() -> list[list[int]]:
    shared = list(range(3, 23))  # 20 tokens: the shared-prefix path runs
    return [shared + tail for tail in ([40, 41], [50], [60, 61, 62, 63], [70, 71, 72], [80])]


def test_continuous_decoding_matches_generate(tiny: Any) -> None:
    prompts = _prompts()
    ref = []
    for p in prompts:
        with torch.inference_mode():
            out = tiny.generate(torch.tensor([p]), max_new_tokens=12, do_sample=False)
        ref.append(out[0, len(p) :].tolist())
    # Rows stop at different steps, so rows retire and waiting prompts join mid-way.
    got = {
        f.index: f.ids
        for f in decode(
            tiny,
            prompts,
            max_new_tokens=12,
            batch_size=2,
            eos_ids=set(),
            pad_id=0,
            stopped=lambda ids: len(ids) >= 3 + sum(ids) % 7,
        )
    }
    assert sorted(got) == list(range(len(prompts)))
    for i, ids in got.items():
        assert ids == ref[i][: len(ids)], i
    assert len({len(v) for v in got.values()}) > 1


def test_a_rerun_of_some_prompts_samples_the_same_tokens(tiny: Any) -> None:
    prompts = _prompts()
    sampling = Sampling(temperature=1.0, top_p=0.9, seed=3)
    kw: dict[str, Any] = {"max_new_tokens": 6, "eos_ids": set(), "pad_id": 0, "sampling": sampling}
    full = {f.index: f.ids for f in decode(tiny, prompts, batch_size=4, **kw)}
    rest = [1, 3, 4]  # what an out-of-memory retry reruns, at a smaller batch
    again = decode(tiny, [prompts[i] for i in rest], batch_size=1, seed_keys=rest, **kw)
    assert {rest[f.index]: f.ids for f in again} == {i: full[i] for i in rest}


def test_loglikelihood_selects_positions_before_log_softmax(tiny: Any) -> None:
    pairs = [([5, 6, 7, 8], [9, 10]), ([11], [12, 13, 14, 15, 16]), ([17, 18], [])]
    got = score_batch(tiny, pairs, pad_id=0, device="cpu")
    for (ctx, cont), value in zip(pairs, got, strict=True):
        ids = torch.tensor([ctx + cont])
        with torch.inference_mode():
            logp = torch.log_softmax(tiny(ids).logits[0].float(), -1)
        want = sum(float(logp[len(ctx) - 1 + k, t]) for k, t in enumerate(cont))
        assert value == pytest.approx(want, abs=1e-4)
    assert got[2] == 0.0
