"""What ``harness drift`` compares: texts (and optional labels) from a file, a task or a run.

A source is written ``WHERE:WHAT``:

* ``data.jsonl:question`` or ``data.csv:text:label`` — a JSONL (``.jsonl``, ``.jsonl.gz``) or
  CSV file, the text field and optionally a label field;
* ``gsm8k:train`` or ``tweeteval_sentiment:val:target`` — a registered task (or task YAML file)
  and split; the text is the item's question as the model sees it without few-shot exemplars
  (the last user turn), ``:target`` uses each item's target as its label;
* ``runs/<id>:prompts`` or ``runs/<id>:outputs`` — a run folder's prompts (last user turn) or
  first completions.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness._errors import HarnessError

FILE_SUFFIXES = (".jsonl", ".jsonl.gz", ".csv")
RUN_FIELDS = ("prompts", "outputs")


@dataclass
class Texts:
    """One side of a drift comparison.

    Attributes:
        source: The source as written.
        texts: The texts, after ``max_items``.
        labels: Their labels (None: no label field given).
        n_total: Texts in the source before ``max_items``.
    """

    source: str
    texts: list[str]
    labels: list[str] | None
    n_total: int


def load_texts(
    source: str, *, data_dir: Path | None = None, max_items: int | None = None, seed: int = 0
) -> Texts:
    """Reads a source (see the module docstring), keeping a seeded random ``max_items`` of it.

    Raises:
        HarnessError: The source is malformed, missing, or names a field its rows lack.
    """
    where, _, what = source.partition(":")
    parts = what.split(":") if what else []
    if not where or not parts or not all(parts) or len(parts) > 2:
        raise HarnessError(
            f"drift source {source!r}: write FILE.jsonl:FIELD[:LABEL], TASK:SPLIT[:target] "
            f"or RUN_FOLDER:prompts|outputs"
        )
    path = Path(where)
    if path.is_dir() and (path / "run.json").is_file():
        texts, labels = _from_run(path, parts, source)
    elif where.endswith(FILE_SUFFIXES):
        texts, labels = _from_file(path, parts, source)
    else:
        texts, labels = _from_task(where, parts, source, data_dir)
    if not texts:
        raise HarnessError(f"drift source {source!r} holds no texts")
    return sample_texts(Texts(source, texts, labels, len(texts)), max_items, seed)


def sample_texts(t: Texts, max_items: int | None, seed: int) -> Texts:
    """``t`` cut to a seeded random ``max_items`` texts (kept in their order)."""
    if max_items is None or len(t.texts) <= max_items:
        return t
    keep = sorted(random.Random(seed).sample(range(len(t.texts)), max_items))
    labels = [t.labels[i] for i in keep] if t.labels is not None else None
    return Texts(t.source, [t.texts[i] for i in keep], labels, t.n_total)


def _from_file(path: Path, parts: list[str], source: str) -> tuple[list[str], list[str] | None]:
    from harness._data import read_csv, read_jsonl

    if not path.is_file():
        raise HarnessError(f"drift source {source!r}: {path} does not exist")
    required = tuple(parts)
    rows: list[dict[str, Any]] = list(
        read_csv(path, required) if path.suffix == ".csv" else read_jsonl(path, required)
    )
    texts = [str(r[parts[0]]) for r in rows]
    labels = [str(r[parts[1]]) for r in rows] if len(parts) == 2 else None
    return texts, labels


def _from_task(
    name: str, parts: list[str], source: str, data_dir: Path | None
) -> tuple[list[str], list[str] | None]:
    from harness._data import DataOptions
    from harness._loader import get_task, load_dataset
    from harness._task import tasks

    if len(parts) == 2 and parts[1] != "target":
        raise HarnessError(f"drift source {source!r}: a task's label can only be ':target'")
    params: dict[str, Any] = {}
    if not name.endswith((".yaml", ".yml")) and "num_fewshot" in tasks.get(name).parameters():
        params["num_fewshot"] = 0  # the items themselves, not the exemplars around them
    task = get_task(name, **params)
    dataset = load_dataset(task, DataOptions(data_dir=data_dir, split=parts[0]))
    texts = [_last_user_turn(s.prompt.messages, s.prompt.text) for s in dataset.samples]
    labels = [str(s.target) for s in dataset.samples] if len(parts) == 2 else None
    return texts, labels


def _from_run(folder: Path, parts: list[str], source: str) -> tuple[list[str], None]:
    from harness.record import read_samples

    if len(parts) != 1 or parts[0] not in RUN_FIELDS:
        raise HarnessError(f"drift source {source!r}: a run gives ':prompts' or ':outputs'")
    samples = read_samples(folder)
    if parts[0] == "outputs":
        return [s.outputs[0] for s in samples if s.outputs and not s.errors], None
    return [_last_user_turn(s.prompt, s.prompt) for s in samples], None


def _last_user_turn(messages: Any, fallback: Any) -> str:
    """The content of the last user message (dicts or `Message`s), else ``fallback`` as text."""
    if isinstance(messages, (list, tuple)):
        for m in reversed(messages):
            role = m.get("role") if isinstance(m, dict) else getattr(m, "role", None)
            if role == "user":
                content = m.get("content") if isinstance(m, dict) else m.content
                return str(content)
    return fallback if isinstance(fallback, str) else str(fallback)
