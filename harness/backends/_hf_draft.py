"""Prompt-lookup drafts for speculative greedy decoding.

A row's next tokens are guessed by finding the newest n-gram of its text (prompt and output so
far) earlier in that text and proposing what followed it there. The model then checks all the
guesses in one forward pass, and the longest run that matches its own greedy choices is kept:
the output is exactly greedy decoding's, only with fewer forward passes when the text repeats
itself (numbers copied from the question, few-shot formats, a model stuck in a loop). The idea
is Saxena's "prompt lookup decoding"; vLLM ships it as n-gram speculation.
"""

from __future__ import annotations

from collections.abc import Sequence

NGRAM_SIZES = (3, 2)  # the longest match is tried first


class NgramDraft:
    """An index from each n-gram of a token sequence to the position after its latest occurrence.

    Args:
        tokens: The sequence so far (a prompt).
    """

    def __init__(self, tokens: Sequence[int]) -> None:
        self.tokens = list(tokens)
        self._index: dict[int, dict[tuple[int, ...], int]] = {n: {} for n in NGRAM_SIZES}
        for p in range(1, len(self.tokens)):
            self._add(p)

    def _add(self, p: int) -> None:
        # The n-gram that ends just before position p is followed by tokens[p].
        for n, index in self._index.items():
            if p >= n:
                index[tuple(self.tokens[p - n : p])] = p

    def push(self, token: int) -> None:
        """Append one generated token."""
        self.tokens.append(token)
        self._add(len(self.tokens) - 1)

    def propose(self, k: int) -> list[int]:
        """Up to ``k`` tokens that followed the newest n-gram last time it occurred."""
        if k <= 0:
            return []
        for n, index in self._index.items():
            if len(self.tokens) < n:
                continue
            start = index.get(tuple(self.tokens[-n:]))
            if start is not None:
                return self.tokens[start : start + k]
        return []


def accepted(draft: Sequence[int], greedy: Sequence[int]) -> list[int]:
    """The tokens a verification pass yields: the draft's prefix that matches the model's greedy
    choices, then the model's own next token.

    ``greedy[j]`` is the model's choice after the fed token and ``draft[:j]``.
    """
    m = 0
    while m < len(draft) and draft[m] == greedy[m]:
        m += 1
    return [*draft[:m], greedy[m]]
