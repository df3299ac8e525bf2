"""Training data as the contamination check reads it: files with fields, or a task's split.

`TrainingData` is what ``harness train`` stores in the adapter manifest (key
``contamination``): each file's absolute path, sha256, text fields and the rows the trainer
read, or the task, split and item limit it trained on, plus a fingerprint over all of it. That
is what rebuilding the index needs; `training_docs` re-reads the data and refuses
(`UncheckedError`) when a file is gone or its bytes changed since training, so a check is
never made against other data than the adapter saw.

A training row becomes one text per field: a chat row each message's content, an alpaca row
its instruction, input and output, any other row its string values (or the fields named).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from harness._errors import HarnessError

FILE_SUFFIXES = (".jsonl", ".jsonl.gz", ".csv", ".json")
MANIFEST = "adapter_manifest.json"


class UncheckedError(HarnessError):
    """The training data cannot be read as it was at training time (missing or changed)."""


class UnknownTrainingData(UncheckedError):
    """The adapter has no record of its training data (it was not trained by harness)."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class TrainingFile(_Strict):
    """A data file the adapter was trained on."""

    path: str = Field(description="absolute path at training time")
    sha256: str | None = Field(None, description="the file's hash then (None: not recorded)")
    fields: list[str] = Field(
        default_factory=list, description="text fields read (empty: every text of a row)"
    )
    rows: int | None = Field(None, description="only the first N rows were read")


class TrainingTask(_Strict):
    """A task split the adapter was trained on (with the task's eval-time prompts)."""

    task: str
    split: str
    data_dir: str | None = None
    limit: int | None = Field(None, description="only the first N items were read")
    files: dict[str, str] = Field(default_factory=dict, description="file name -> sha256")


class TrainingData(_Strict):
    """What an adapter was trained on: enough to rebuild the contamination index."""

    files: list[TrainingFile] = Field(default_factory=list)
    tasks: list[TrainingTask] = Field(default_factory=list)
    fingerprint: str = Field("", description="sha256 over the sources and their hashes")

    def with_fingerprint(self) -> TrainingData:
        """This reference with ``fingerprint`` computed from its sources."""
        body = self.model_dump(exclude={"fingerprint"})
        blob = json.dumps(body, sort_keys=True).encode()
        return self.model_copy(update={"fingerprint": hashlib.sha256(blob).hexdigest()})

    def describe(self) -> str:
        """The sources in a few words, e.g. ``train.jsonl, gsm8k:train``."""
        names = [Path(f.path).name for f in self.files] + [
            f"{t.task}:{t.split}" for t in self.tasks
        ]
        return ", ".join(names) or "no data"


def file_reference(
    path: Path, fields: list[str] | None = None, rows: int | None = None
) -> TrainingFile:
    """A `TrainingFile` for ``path`` with its current hash."""
    from harness._data import sha256_file

    return TrainingFile(
        path=str(Path(path).resolve()), sha256=sha256_file(path), fields=fields or [], rows=rows
    )


def parse_training(spec: str, data_dir: Path | None = None) -> TrainingData:
    """``FILE[:FIELD[,FIELD]]``, ``TASK:SPLIT`` or an adapter folder, as a `TrainingData`.

    Raises:
        HarnessError: The file or folder does not exist, or the folder's manifest names no data.
    """
    path = Path(spec)
    if path.is_dir():
        return adapter_training(path)
    where, sep, what = spec.rpartition(":")
    if sep and where.endswith(FILE_SUFFIXES) and not path.exists():
        path, fields = Path(where), [f for f in what.split(",") if f]
    else:
        fields = []
    if path.is_file():
        return TrainingData(files=[file_reference(path, fields)]).with_fingerprint()
    if sep and not spec.endswith(FILE_SUFFIXES) and not where.endswith(FILE_SUFFIXES):
        from harness._task import tasks

        if where in tasks.names():
            root = str(data_dir) if data_dir else None
            task = TrainingTask(task=where, split=what, data_dir=root)
            return TrainingData(tasks=[task]).with_fingerprint()
    raise HarnessError(
        f"training data {spec!r} not found; pass FILE.jsonl[:FIELD], FILE.csv:FIELD, "
        f"TASK:SPLIT or an adapter folder"
    )


def adapter_training(folder: Path) -> TrainingData:
    """The training data an adapter folder's manifest names.

    Raises:
        UnknownTrainingData: No manifest, or one that records no training data.
        UncheckedError: The manifest is not valid JSON.
    """
    manifest = Path(folder) / MANIFEST
    if not manifest.is_file():
        raise UnknownTrainingData(f"{folder} has no {MANIFEST}, so its training data is unknown")
    try:
        data: dict[str, Any] = json.loads(manifest.read_text(encoding="utf-8"))
    except ValueError:
        raise UncheckedError(f"{manifest} is not valid JSON") from None
    ref = data.get("contamination")
    if not isinstance(ref, dict):
        raise UnknownTrainingData(
            f"{manifest} names no training data (trained before harness recorded it); "
            f"check it with `harness contamination DATA.jsonl --task T`"
        )
    return TrainingData.model_validate(ref)


def training_docs(data: TrainingData) -> Iterator[tuple[str, str]]:
    """(where, text) for every text of the training data: ``file.jsonl:12`` or ``gsm8k:train-3``.

    Raises:
        UncheckedError: A file is missing or differs from the one trained on.
    """
    for f in data.files:
        _verify(f)
    for t in data.tasks:
        _verify_task(t)
    for f in data.files:
        yield from _file_docs(f)
    for t in data.tasks:
        yield from _task_docs(t)


def _verify(f: TrainingFile) -> None:
    from harness._data import sha256_file

    path = Path(f.path)
    if not path.is_file():
        raise UncheckedError(f"training file {path} not found")
    if f.sha256 is not None and sha256_file(path) != f.sha256:
        raise UncheckedError(f"training file {path} changed since training (sha256 differs)")


def _verify_task(t: TrainingTask) -> None:
    """The task's data files now must hash as they did at training time."""
    from harness._data import sha256_file

    root = Path(t.data_dir) if t.data_dir else None
    for name, sha in t.files.items():
        found = list(root.rglob(name)) if root and root.is_dir() else []
        if root is not None and not any(sha256_file(p) == sha for p in found):
            raise UncheckedError(
                f"training data of {t.task}:{t.split}: {name} under {root} is missing or changed"
            )


def _file_docs(f: TrainingFile) -> Iterator[tuple[str, str]]:
    from harness._data import read_csv, read_jsonl

    path = Path(f.path)
    if path.suffix == ".csv":
        rows: Iterator[dict[str, Any]] = read_csv(path, tuple(f.fields))
    elif path.suffix == ".json":
        loaded = json.loads(path.read_text(encoding="utf-8"))
        rows = iter(loaded if isinstance(loaded, list) else [loaded])
    else:
        rows = read_jsonl(path)
    for lineno, row in enumerate(rows, 1):
        if f.rows is not None and lineno > f.rows:
            return
        for text in row_texts(row, f.fields):
            yield f"{path.name}:{lineno}", text


def row_texts(row: Any, fields: list[str]) -> list[str]:
    """The texts of one training row: the named fields, a chat row's message contents, or
    every string value."""
    if not isinstance(row, dict):
        return [str(row)]
    if fields:
        return [str(row[k]) for k in fields if row.get(k) is not None]
    if isinstance(row.get("messages"), list):
        return [str(m.get("content", "")) for m in row["messages"] if isinstance(m, dict)]
    return [v for v in row.values() if isinstance(v, str)]


def _task_docs(t: TrainingTask) -> Iterator[tuple[str, str]]:
    from harness._data import DataOptions
    from harness._loader import get_task, load_dataset

    root = Path(t.data_dir) if t.data_dir else None
    dataset = load_dataset(
        get_task(t.task), DataOptions(data_dir=root, split=t.split, limit=t.limit)
    )
    for s in dataset.samples:
        where = f"{t.task}:{s.id}"
        for m in s.prompt.messages:
            yield where, m.content
        completion = s.metadata.get("completion", s.target)
        if isinstance(completion, str):
            yield where, completion
