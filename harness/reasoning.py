"""Reasoning models: split every output into its thinking and its answer, score the answer.

A reasoning model writes ``<think>…</think>`` (or other markers) before it answers, or a server
with a reasoning parser returns the thinking apart (``reasoning_content``). Before extraction
and scoring every completion is split into ``reasoning`` and ``answer``; scorers and judges
see the answer only. A thinking block that never closes (cut by ``max_new_tokens``, or by a
stop sequence inside it) has an empty answer: it counts as no match and in
``reasoning_truncated_rate``, never as whatever number the thinking had reached.

Which markers split: ``--reasoning-markers START,END``, else the task's ``reasoning_markers``,
else the model's (a ``reasoning_markers`` key in its ``tokenizer_config.json`` or fake
script), else ``<think>``/``</think>`` when the chat template mentions them; none otherwise.
``--no-reasoning-split`` turns the split off (a server's own split is still kept apart).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

DEFAULT_MARKERS = ("<think>", "</think>")


@dataclass(frozen=True)
class ReasoningOptions:
    """How the user asked outputs to be split (the command line's flags).

    Attributes:
        markers: ``--reasoning-markers START,END`` (None: the task's, the model's or the
            chat template's).
        split: False with ``--no-reasoning-split``.
    """

    markers: tuple[str, str] | None = None
    split: bool = True


@dataclass(frozen=True)
class Splitter:
    """The markers a run splits with, and where they came from (recorded).

    Attributes:
        markers: Start and end marker (None: outputs are not split by harness).
        source: "flag", "task", "model", "chat template", "off" (--no-reasoning-split) or
            "none" (nothing asked for a split).
    """

    markers: tuple[str, str] | None
    source: str

    def split(self, text: str, opened: bool = False) -> Split:
        """``text`` split at the markers; ``opened``: the prompt ended with the start marker
        (templates that open the thinking block for the model)."""
        if self.markers is None:
            return Split(text, None, text, False)
        return split_text(text, self.markers, opened)

    def opened_by(self, prompt: Any) -> bool:
        """Whether the rendered ``prompt`` (a string) ends inside an open thinking block."""
        if self.markers is None or not isinstance(prompt, str):
            return False
        return prompt.rstrip().endswith(self.markers[0])


@dataclass(frozen=True)
class Split:
    """One completion, split.

    Attributes:
        raw: The completion as the model (or server's content field) returned it.
        reasoning: The thinking (None: the completion had no thinking block).
        answer: What scorers see.
        truncated: The thinking block never closed (the answer is then empty).
    """

    raw: str
    reasoning: str | None
    answer: str
    truncated: bool


def split_text(text: str, markers: tuple[str, str], opened: bool = False) -> Split:
    """Splits ``text`` at the first end marker of a thinking block.

    A block starts where the text (after leading whitespace) begins with the start marker, or
    at the very beginning when ``opened``. Text without such a block is all answer, even when
    it quotes a marker; an answer after a closed block may quote either marker.
    """
    start, end = markers
    head = text.lstrip()
    if head.startswith(start):
        body = head[len(start) :]
    elif opened:
        body = text
    else:
        return Split(text, None, text, False)
    cut = body.find(end)
    if cut < 0:
        return Split(text, body.strip(), "", True)
    return Split(text, body[:cut].strip(), body[cut + len(end) :].lstrip(), False)


def server_split(content: str, reasoning: str, finish_reason: str) -> Split:
    """A server's own split (``reasoning_content``): the content is the answer; reasoning with
    no content, cut at ``max_new_tokens``, is a truncated thinking block."""
    truncated = not content.strip() and finish_reason == "length"
    return Split(content, reasoning, "" if truncated else content, truncated)


def resolve_splitter(
    options: ReasoningOptions,
    task_markers: Sequence[str] | None,
    model_markers: Sequence[str] | None,
    chat_template: str | None,
) -> Splitter:
    """The run's splitter: the flag, else the task's key, else the model's key, else
    ``<think>``/``</think>`` when the chat template mentions them."""
    if not options.split:
        return Splitter(None, "off")
    for markers, source in (
        (options.markers, "flag"),
        (task_markers, "task"),
        (model_markers, "model"),
    ):
        if markers:
            return Splitter((str(markers[0]), str(markers[1])), source)
    if chat_template and all(m in chat_template for m in DEFAULT_MARKERS):
        return Splitter(DEFAULT_MARKERS, "chat template")
    return Splitter(None, "none")


def parse_markers(value: str) -> tuple[str, str]:
    """``START,END`` into a pair (raises ValueError with what to write)."""
    start, comma, end = value.partition(",")
    if not comma or not start.strip() or not end.strip() or "," in end:
        raise ValueError(f"{value!r}: expected START,END (e.g. '<think>,</think>')")
    return start.strip(), end.strip()
