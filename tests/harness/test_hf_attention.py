"""Cascade attention (shared prefix once + each row's own keys) and the packed CPU linears
against the plain computations they replace."""

from __future__ import annotations

from typing import Any

import pytest
import torch

from harness.backends._hf_attention import attend, causal, decoder_attention, merge, shared_prefix
from harness.backends._hf_linear import packed_linears


class _Layer:
    layer_idx = 0
    num_key_value_groups = 3
    training = False


@pytest.mark.parametrize("fused", [True, False])
def test_prefix_and_rows_merge_to_softmax_over_both(fused: bool) -> None:
    torch.manual_seed(0)
    b, kv, groups, q, d, p, n = 4, 2, 3, 3, 16, 30, 12
    query = torch.randn(b, kv * groups, q, d)
    pk, pv = torch.randn(1, kv, p, d), torch.randn(1, kv, p, d)
    k, v = torch.randn(b, kv, n, d), torch.randn(b, kv, n, d)
    mask = torch.rand(b, 1, q, n) > 0.4
    mask[..., 0] = True
    mask[1, :, :, 1:] = False  # a row that sees one of its own keys only
    with shared_prefix([(pk, pv)]):
        if fused:
            got, _ = decoder_attention(_Layer(), query, k, v, mask, scaling=d**-0.5)
        else:  # the portable path, pieced together as decoder_attention does
            folded = query.reshape(b, kv, groups * q, d)
            fm = mask[:, :, None].expand(-1, 1, groups, -1, -1).reshape(b, 1, groups * q, n)
            bias = torch.zeros(fm.shape).masked_fill(~fm, float("-inf"))
            own = attend(folded, k, v, bias, d**-0.5, fused=False)
            stacked = folded.transpose(0, 1).reshape(1, kv, b * groups * q, d)
            o, lse = attend(stacked, pk, pv, None, d**-0.5, fused=False)
            shared = (
                o.reshape(kv, b, groups * q, d).transpose(0, 1),
                lse.reshape(kv, b, groups * q).transpose(0, 1),
            )
            got = merge([shared, own]).reshape(b, kv * groups, q, d).transpose(1, 2)
    keys = torch.cat([pk.expand(b, -1, -1, -1), k], 2).repeat_interleave(groups, 1)
    values = torch.cat([pv.expand(b, -1, -1, -1), v], 2).repeat_interleave(groups, 1)
    full = torch.cat([torch.ones(b, 1, q, p, dtype=torch.bool), mask], 3)
    ref = torch.nn.functional.scaled_dot_product_attention(query, keys, values, attn_mask=full)
    assert got.shape == (b, q, kv * groups, d)
    assert torch.allclose(got, ref.transpose(1, 2), atol=1e-5)


def test_no_mask_means_causal_over_the_rows_own_keys() -> None:
    assert causal(2, 4, "cpu")[0, 0].tolist() == [[True, True, True, False], [True] * 4]
    torch.manual_seed(1)
    query, k, v = torch.randn(1, 3, 4, 8), torch.randn(1, 1, 4, 8), torch.randn(1, 1, 4, 8)
    pk, pv = torch.randn(1, 1, 5, 8), torch.randn(1, 1, 5, 8)
    with shared_prefix([(pk, pv)]):
        got, _ = decoder_attention(_Layer(), query, k, v, None, scaling=8**-0.5)
    keys = torch.cat([pk, k], 2).expand(1, 3, -1, -1)
    values = torch.cat([pv, v], 2).expand(1, 3, -1, -1)
    mask = torch.cat([torch.ones(1, 1, 4, 5, dtype=torch.bool), causal(4, 4, "cpu")], 3)
    ref = torch.nn.functional.scaled_dot_product_attention(query, keys, values, attn_mask=mask)
    assert torch.allclose(got, ref.transpose(1, 2), atol=1e-5)


def test_packed_linears_agree_and_are_undone(tiny: Any) -> None:
    ids = torch.tensor([[3, 4, 5, 6], [7, 8, 9, 10]])
    with torch.inference_mode():
        ref = tiny(input_ids=ids).logits
        with packed_linears(tiny, "cpu"):
            patched = [m for m in tiny.modules() if "forward" in vars(m)]
            got = tiny(input_ids=ids).logits
        after = [m for m in tiny.modules() if "forward" in vars(m)]
    assert len(patched) == sum(type(m) is torch.nn.Linear for m in tiny.modules()) > 0
    assert after == []  # every layer has its own forward back
    assert torch.allclose(got, ref, atol=1e-4) and got.dtype == ref.dtype
    with packed_linears(tiny, "meta"):  # not CPU: nothing is patched
        assert not [m for m in tiny.modules() if "forward" in vars(m)]


@pytest.fixture(scope="module")
def tiny() -> Any:
    from tests._tiny_llama import tiny_llama

    return tiny_llama()
