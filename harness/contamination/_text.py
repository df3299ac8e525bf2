"""Normalised words and word n-grams: what both contamination tests compare.

Text is lowercased, punctuation becomes a space and it is split on whitespace, as the GPT-3
paper and lm-evaluation-harness's decontamination do before taking 13-grams. An n-gram is its
words joined by single spaces, so one string means one n-gram everywhere; in memory it is
the tuple of its words (``zip`` builds tuples several times faster than strings are joined).
"""

from __future__ import annotations

import re
import string
from collections import Counter
from collections.abc import Iterable, Sequence

Gram = tuple[str, ...]
_PUNCT = re.compile(f"[{re.escape(string.punctuation)}]")


def words(text: str) -> list[str]:
    """The lowercased words of ``text`` with punctuation stripped."""
    return _PUNCT.sub(" ", text.lower()).split()


def ngrams(tokens: Sequence[str], n: int) -> set[Gram]:
    """Every run of ``n`` consecutive words, as word tuples (none when there are fewer)."""
    return set(zip(*(tokens[i:] for i in range(n)), strict=False))


def gram_text(gram: Gram) -> str:
    """An n-gram as its words joined by single spaces."""
    return " ".join(gram)


def boilerplate(grams: Iterable[set[Gram]], min_items: int = 3, share: float = 0.1) -> set[Gram]:
    """N-grams shared by at least ``min_items`` items and ``share`` of them: a task's prompt
    wording (instructions, labels), not an item's content, so they do not count as overlap."""
    sets = list(grams)
    counts = Counter(g for s in sets for g in s)
    floor = max(min_items, share * len(sets))
    return {g for g, c in counts.items() if c >= floor}
