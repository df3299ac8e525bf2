"""The perplexity task: documents from .txt/.jsonl, and a real run of the bundled model whose
token-weighted perplexity equals a direct transformers computation."""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from pathlib import Path

import pytest

from harness import DataError, DataOptions, HarnessError, Output, Sample, get_task, load_dataset
from harness._types import Prompt
from harness.metrics.perplexity import Perplexity, split_context

DOCS = [
    "The cat sat on the mat and looked at the garden.",
    "Paris is the capital of France. It is known for the Eiffel Tower.",
    "Zebra quantum marmalade seven backwards umbrella.",
]


def test_split_context() -> None:
    assert split_context("  Hello big world") == ("  Hello", " big world")
    assert split_context("one") == ("one", "")


def test_reads_txt_paragraphs_and_jsonl(tmp_path: Path) -> None:
    txt = tmp_path / "doc.txt"
    txt.write_text("\n\n".join(DOCS) + "\n\n\n")
    ds = load_dataset(get_task("perplexity", path=str(txt)), DataOptions())
    assert [s.prompt.text + s.choices[0] for s in ds.samples] == DOCS
    jl = tmp_path / "doc.jsonl"
    jl.write_text("".join(json.dumps({"body": d}) + "\n" for d in DOCS))
    ds = load_dataset(get_task("perplexity", path=str(jl), field="body"), DataOptions(limit=2))
    assert len(ds.samples) == 2 and ds.info.n_total == 3
    with pytest.raises(DataError, match="lacks field"):
        load_dataset(get_task("perplexity", path=str(jl)), DataOptions())
    with pytest.raises(HarnessError, match="-T path="):
        get_task("perplexity")


def test_token_weighting() -> None:
    samples = [
        Sample(id=str(i), prompt=Prompt.plain("x"), target=None, choices=["y"]) for i in range(2)
    ]
    outs = [
        Output(choice_logprobs=[-10.0], choice_tokens=[10]),
        Output(choice_logprobs=[-2.0], choice_tokens=[1]),
    ]
    scorer = Perplexity(resamples=50)
    agg = scorer.aggregate(scorer.score_all(samples, outs), samples)
    assert agg["perplexity"].value == pytest.approx(
        math.exp(12 / 11)
    )  # not the mean of per-doc values


@pytest.mark.slow
@pytest.mark.gpu_capable
def test_equals_direct_transformers(tmp_path: Path, rel_tol: Callable[[str], float]) -> None:
    import torch

    from harness import RunContext, evaluate
    from harness.backends.hf import HFBackend

    txt = tmp_path / "doc.txt"
    txt.write_text("\n\n".join(DOCS))
    total_lp, total_n = 0.0, 0
    with HFBackend(chat_template=False) as backend:
        (res,) = evaluate(
            get_task("perplexity", path=str(txt)), backend, context=RunContext(runs_dir=tmp_path)
        )
        # The same weights, scored directly: one forward pass over each whole document.
        tok, model = backend.tokenizer, backend.model
        for doc in DOCS:
            n_ctx = len(tok(split_context(doc)[0])["input_ids"])
            ids = tok(doc, return_tensors="pt")["input_ids"].to(model.device)
            with torch.no_grad():
                logp = torch.log_softmax(model(ids).logits[0, :-1].float(), -1)
            picked = logp.gather(1, ids[0, 1:, None])[:, 0]
            total_lp += float(picked[n_ctx - 1 :].sum())
            total_n += ids.shape[1] - n_ctx
    expected = math.exp(-total_lp / total_n)
    rec = res.record
    assert rec.extra["perplexity"]["tokens_scored"] == total_n
    assert rec.metrics["perplexity"].value == pytest.approx(expected, rel=rel_tol(backend.dtype))
    assert 1 < expected < 1e4
