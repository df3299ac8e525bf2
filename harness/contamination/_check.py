"""The two contamination tests of every evaluated item against a training corpus.

* **n-gram overlap**: an item is flagged when any of its word n-grams (13 by default, after
  lowercasing and stripping punctuation: the GPT-3 / lm-evaluation-harness rule) occurs in a
  training text.
* **near-duplicate**: an item is flagged when some training text's set of word 5-grams has a
  Jaccard similarity of at least 0.8 with the item's. Candidates come from a MinHash LSH index
  (`datasketch.MinHashLSH`) over the items; each candidate's Jaccard is then computed exactly
  from the two 5-gram sets, so the LSH only decides what is compared.

The index is built over the (few) test items and the (many) training texts are streamed past
it once, so memory grows with the test set, not the training corpus. N-grams that many items
of a task share are its prompt wording (`boilerplate`) and are not counted. An item with
fewer words than n (or than 5) cannot fail that test, and says so (``ngrams: 0``).
"""

from __future__ import annotations

import time
import zlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, Field

from harness.contamination._text import Gram, boilerplate, gram_text, ngrams, words


@dataclass(frozen=True)
class Settings:
    """How items are compared with training texts.

    Attributes:
        ngram: Words per n-gram of the overlap test.
        shingle: Words per shingle of the near-duplicate test.
        threshold: Jaccard similarity (of shingle sets) at which an item is a near-duplicate.
        num_perm: MinHash permutations (more: fewer missed candidates, slower).
    """

    ngram: int = 13
    shingle: int = 5
    threshold: float = 0.8
    num_perm: int = 128

    def to_dict(self) -> dict[str, Any]:
        return {
            "ngram": self.ngram,
            "shingle": self.shingle,
            "threshold": self.threshold,
            "num_perm": self.num_perm,
        }


class ItemResult(BaseModel):
    """Both tests' verdicts on one item."""

    id: str
    contaminated: bool = Field(description="either test flagged the item")
    ngram: bool = Field(description="an n-gram of the item occurs in the training data")
    near_duplicate: bool = Field(description="a training text's shingle Jaccard >= threshold")
    ngrams: int = Field(0, description="n-grams the item has (its prompt wording excluded)")
    ngram_hits: int = Field(0, description="of those, how many occur in the training data")
    jaccard: float | None = Field(
        None, description="best Jaccard of an LSH candidate (None: no training text was one)"
    )
    match: str | None = Field(None, description="where the first overlapping training text is")


class Check(BaseModel):
    """One set of items (a task's) checked against one training corpus."""

    n: int
    flagged: list[str] = Field(default_factory=list, description="ids of contaminated items")
    ngram_flagged: int = 0
    near_duplicate_flagged: int = 0
    untestable: int = Field(0, description="items too short for either test")
    training_texts: int = Field(0, description="distinct training texts compared")
    settings: dict[str, Any] = Field(default_factory=dict)
    seconds: float = 0.0
    items: list[ItemResult] = Field(default_factory=list)


def _hash32(gram: Gram) -> int:
    return zlib.crc32(gram_text(gram).encode("utf-8"))


class _Items:
    """The test side: each item's n-grams and shingles, lookups from both to items, and the
    MinHash LSH index of the items' shingle sets."""

    def __init__(self, items: Sequence[tuple[str, str]], settings: Settings) -> None:
        from datasketch import MinHash, MinHashLSH

        self.settings = settings
        toks = [words(text) for _, text in items]
        grams = [ngrams(t, settings.ngram) for t in toks]
        shingles = [ngrams(t, settings.shingle) for t in toks]
        shared = boilerplate(grams) | boilerplate(shingles)
        self.grams = [g - shared for g in grams]
        self.shingles = [s - shared for s in shingles]
        self.lookup: dict[Gram, list[int]] = {}
        for i, gs in enumerate(self.grams):
            for g in gs:
                self.lookup.setdefault(g, []).append(i)
        self.any_shingle: set[Gram] = set().union(*self.shingles) if self.shingles else set()
        self._template = MinHash(num_perm=settings.num_perm, hashfunc=_hash32)
        self.lsh = MinHashLSH(threshold=settings.threshold, num_perm=settings.num_perm)
        with self.lsh.insertion_session() as session:
            for i, sh in enumerate(self.shingles):
                if sh:
                    session.insert(i, self.minhash(sh))

    def minhash(self, shingles: Iterable[Gram]) -> Any:
        """A MinHash of ``shingles`` with the index's permutations."""
        from datasketch import MinHash

        m = MinHash(
            num_perm=self.settings.num_perm,
            hashfunc=_hash32,
            permutations=self._template.permutations,
            scheme=self._template.scheme,
        )
        m.update_batch(shingles)
        return m

    def near(self, shingles: set[Gram]) -> list[tuple[int, float]]:
        """Items whose shingle Jaccard with ``shingles`` is at least the threshold.

        Jaccard(A, B) >= t needs at least t·|B| of B's shingles in A, so a text with fewer
        than that among all items' shingles is skipped before hashing: the common case
        (most training texts resemble no item) costs one set intersection.
        """
        if len(shingles & self.any_shingle) < self.settings.threshold * len(shingles):
            return []
        out = []
        for i in self.lsh.query(self.minhash(shingles)):
            sh = self.shingles[i]
            out.append((i, len(sh & shingles) / len(sh | shingles)))
        return out


def check_items(
    items: Sequence[tuple[str, str]],
    docs: Iterable[tuple[str, str]],
    settings: Settings | None = None,
) -> Check:
    """Runs both tests of every item (id, text) against the training texts (where, text).

    Args:
        items: The evaluated items: their ids and texts.
        docs: The training texts and where each is (``file.jsonl:12``); streamed once.
        settings: The tests' parameters.
    """
    settings = settings or Settings()
    t0 = time.perf_counter()
    side = _Items(items, settings)
    found: list[set[Gram]] = [set() for _ in items]
    best: list[float] = [-1.0] * len(items)
    where: list[str | None] = [None] * len(items)
    seen: set[int] = set()
    for loc, text in docs:
        key = hash(text)
        if key in seen:
            continue
        seen.add(key)
        toks = words(text)
        for g in ngrams(toks, settings.ngram) & side.lookup.keys():
            for i in side.lookup[g]:
                found[i].add(g)
                where[i] = where[i] or loc
        shingles = ngrams(toks, settings.shingle)
        if not shingles:
            continue
        for i, j in side.near(shingles):
            best[i] = max(best[i], j)
            if j >= settings.threshold:
                where[i] = where[i] or loc
    results = [
        _item(item_id, len(side.grams[i]), len(found[i]), best[i], where[i], settings)
        for i, (item_id, _) in enumerate(items)
    ]
    return Check(
        n=len(items),
        flagged=[r.id for r in results if r.contaminated],
        ngram_flagged=sum(r.ngram for r in results),
        near_duplicate_flagged=sum(r.near_duplicate for r in results),
        untestable=sum(not g and not s for g, s in zip(side.grams, side.shingles, strict=True)),
        training_texts=len(seen),
        settings=settings.to_dict(),
        seconds=round(time.perf_counter() - t0, 3),
        items=results,
    )


def _item(
    item_id: str,
    n_grams: int,
    hits: int,
    jaccard: float,
    where: str | None,
    settings: Settings,
) -> ItemResult:
    near = jaccard >= settings.threshold
    return ItemResult(
        id=item_id,
        contaminated=hits > 0 or near,
        ngram=hits > 0,
        near_duplicate=near,
        ngrams=n_grams,
        ngram_hits=hits,
        jaccard=None if jaccard < 0 else round(jaccard, 4),
        match=where if hits > 0 or near else None,
    )
