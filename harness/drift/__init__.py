"""Data drift: is sample B drawn from the same distribution as sample A?

`compare` puts two `Texts` through every test, each with a p-value:

* ``length_ks``: Kolmogorov-Smirnov on token lengths;
* ``label_chi2``: chi-square on the label counts (when both sides have labels);
* ``token_chi2``: chi-square on the counts of the ``top_k`` most frequent tokens of the pooled
  texts (plus one "other" column). Tokens are not independent draws, so on large samples this
  test flags small differences in wording; read it with the effect size in ``detail``;
* ``embedding_wasserstein``, ``embedding_mmd``, ``embedding_mean_cosine``: on sentence
  embeddings (the local MiniLM by default), per-dimension 1-Wasserstein averaged, squared MMD
  with an RBF kernel (median-heuristic bandwidth), and the cosine of the two mean embeddings;
  their p-values come from ``permutations`` random relabellings of the pooled texts.

Tokens are lower-cased words and punctuation marks (``\\w+|[^\\w\\s]``), the same on both
sides whatever the model, so lengths are comparable across sources.
"""

from __future__ import annotations

import datetime as dt
import re
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from harness._errors import HarnessError
from harness.drift._record import (
    DRIFT_FILE,
    PCA_FILE,
    DriftRecord,
    SideRecord,
    StatRecord,
    read_drift,
    write_drift,
)
from harness.drift._sources import Texts, load_texts
from harness.drift._stats import (
    chi_square,
    ks_test,
    mean_cosine,
    mean_cosine_distance,
    mmd_rbf_test,
    permutation_test,
    wasserstein_test,
)

if TYPE_CHECKING:
    import numpy as np

__all__ = [
    "DRIFT_FILE",
    "PCA_FILE",
    "DriftRecord",
    "Texts",
    "compare",
    "drift_between",
    "load_texts",
    "read_drift",
    "texts_drift",
    "write_drift",
]

_TOKEN = re.compile(r"\w+|[^\w\s]")


def tokens(text: str) -> list[str]:
    """The tokens the length and frequency tests count."""
    return _TOKEN.findall(text.lower())


def compare(
    a: Texts,
    b: Texts,
    *,
    embeddings: tuple[np.ndarray, np.ndarray] | None = None,
    embedder: str | None = None,
    permutations: int = 200,
    top_k: int = 50,
    alpha: float = 0.05,
    seed: int = 0,
) -> DriftRecord:
    """Every drift statistic of ``b`` against ``a``.

    Args:
        a: The reference sample (training data, say).
        b: The sample to check against it.
        embeddings: Embeddings of ``a`` and ``b`` (rows in text order); None: no embedding
            statistics.
        embedder: The model the embeddings came from (recorded).
        permutations: Relabellings behind each embedding p-value.
        top_k: Tokens in the frequency test.
        alpha: Significance level.
        seed: Seed of the permutations.

    Raises:
        HarnessError: Only one side has labels.
    """
    tok_a, tok_b = [tokens(t) for t in a.texts], [tokens(t) for t in b.texts]
    stats = [_length_ks(tok_a, tok_b), _token_chi2(tok_a, tok_b, top_k)]
    if (a.labels is None) != (b.labels is None):
        raise HarnessError("a label field is given on one side only; give it on both or neither")
    if a.labels is not None and b.labels is not None:
        stats.append(_label_chi2(a.labels, b.labels))
    if embeddings is not None:
        stats += _embedding_stats(*embeddings, permutations, seed)
    return DriftRecord(
        created_at=dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        a=SideRecord(source=a.source, n=len(a.texts), n_total=a.n_total),
        b=SideRecord(source=b.source, n=len(b.texts), n_total=b.n_total),
        alpha=alpha,
        seed=seed,
        permutations=permutations if embeddings is not None else 0,
        embedder=embedder if embeddings is not None else None,
        stats=[s.model_copy(update={"significant": s.p_value < alpha}) for s in stats],
    )


def _stat(name: str, test: str, statistic: float, p: float, **detail: Any) -> StatRecord:
    return StatRecord(
        name=name, test=test, statistic=statistic, p_value=p, significant=False, detail=detail
    )


def _length_ks(tok_a: list[list[str]], tok_b: list[list[str]]) -> StatRecord:
    la, lb = [len(t) for t in tok_a], [len(t) for t in tok_b]
    d, p = ks_test(la, lb)
    return _stat(
        "length_ks",
        "two-sample Kolmogorov-Smirnov on token lengths (p: ks_p_asymptotic, Kolmogorov's "
        "limit distribution)",
        d,
        p,
        ks_p_asymptotic=p,
        mean_a=sum(la) / len(la),
        mean_b=sum(lb) / len(lb),
    )


def _token_chi2(tok_a: list[list[str]], tok_b: list[list[str]], top_k: int) -> StatRecord:
    ca, cb = Counter(t for doc in tok_a for t in doc), Counter(t for doc in tok_b for t in doc)
    top = [t for t, _ in (ca + cb).most_common(top_k)]
    row_a = [ca[t] for t in top] + [ca.total() - sum(ca[t] for t in top)]
    row_b = [cb[t] for t in top] + [cb.total() - sum(cb[t] for t in top)]
    stat, dof, p = chi_square([row_a, row_b])
    n = ca.total() + cb.total()
    cramers_v = (stat / n) ** 0.5 if n else 0.0  # 2 rows: min(r, c) - 1 = 1
    return _stat(
        "token_chi2",
        f"chi-square on the counts of the top {len(top)} tokens + other",
        stat,
        p,
        dof=dof,
        cramers_v=cramers_v,
        top_tokens=top[:10],
    )


def _label_chi2(la: Sequence[str], lb: Sequence[str]) -> StatRecord:
    ca, cb = Counter(la), Counter(lb)
    labels = sorted(set(ca) | set(cb))
    stat, dof, p = chi_square([[ca[x] for x in labels], [cb[x] for x in labels]])
    return _stat(
        "label_chi2",
        "chi-square on the label counts (as scipy chi2_contingency: Yates at 1 dof)",
        stat,
        p,
        dof=dof,
        counts_a={x: ca[x] for x in labels},
        counts_b={x: cb[x] for x in labels},
    )


def _embedding_stats(
    ea: np.ndarray, eb: np.ndarray, permutations: int, seed: int
) -> list[StatRecord]:
    w, pw = wasserstein_test(ea, eb, permutations, seed)
    mmd, pm, sigma = mmd_rbf_test(ea, eb, permutations, seed)
    _, pc = permutation_test(ea, eb, mean_cosine_distance, permutations, seed)
    perm = f"permutation p, {permutations} relabellings"
    return [
        _stat(
            "embedding_wasserstein",
            f"1-Wasserstein per embedding dimension, averaged ({perm})",
            w,
            pw,
        ),
        _stat(
            "embedding_mmd",
            f"squared MMD, RBF kernel, median-heuristic bandwidth ({perm})",
            mmd,
            pm,
            bandwidth=sigma,
        ),
        _stat(
            "embedding_mean_cosine",
            f"cosine similarity of the mean embeddings ({perm}, on 1 - cosine)",
            mean_cosine(ea, eb),
            pc,
        ),
    ]


def drift_between(
    a: Texts,
    b: Texts,
    *,
    embedder: str | Path | None = None,
    embed_texts: bool = True,
    permutations: int = 200,
    seed: int = 0,
) -> tuple[DriftRecord, tuple[np.ndarray, np.ndarray] | None]:
    """`compare` with the embeddings computed here (``embed_texts``) by ``embedder``.

    Returns:
        The record and the embeddings (for the PCA plot), None when not embedded.
    """
    embeddings = None
    name = None
    if embed_texts:
        from harness.drift._embed import default_embedder, embed

        name = str(embedder or default_embedder())
        pooled = embed([*a.texts, *b.texts], name)  # one model load for both sides
        embeddings = (pooled[: len(a.texts)], pooled[len(a.texts) :])
    record = compare(
        a, b, embeddings=embeddings, embedder=name, permutations=permutations, seed=seed
    )
    return record, embeddings


def texts_drift(
    a: Sequence[str],
    b: Sequence[str],
    *,
    names: tuple[str, str] = ("train", "validation"),
    max_items: int = 500,
    seed: int = 0,
) -> DriftRecord:
    """The drift of texts ``b`` from texts ``a`` (what ``harness train`` records for its
    validation data against its training data), embedded with the local MiniLM when it is
    installed and with the text statistics only when it is not."""
    from harness.drift._sources import sample_texts

    sides = [
        sample_texts(Texts(n, list(t), None, len(t)), max_items, seed)
        for n, t in zip(names, (a, b), strict=True)
    ]
    try:
        from harness.drift._embed import default_embedder

        default_embedder()
        embed_texts = True
    except HarnessError:
        embed_texts = False
    record, _ = drift_between(sides[0], sides[1], embed_texts=embed_texts, seed=seed)
    return record
