"""Reading evaluation data: local folders first, the Hugging Face hub when online.

Every local file read is hashed (sha256) into the run record. A malformed row names the file
and line. Offline use is first-class: with no local folder and no network the error says which
flag or variable to set.
"""

from __future__ import annotations

import csv
import gzip
import hashlib
import json
import os
import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness._errors import DataError
from harness._settings import DATA_DIR_ENV, current_settings
from harness._types import Sample


@dataclass(frozen=True)
class DataOptions:
    """Where data comes from and which items to take.

    Attributes:
        data_dir: Folder holding one sub-folder per dataset (``gsm8k/test.jsonl``...); None
            means the installed settings' data folder (``$HARNESS_DATA_DIR`` for the command
            line), else the task's hub dataset.
        limit: Take only the first ``limit`` items: a count (``100``) or a fraction of the
            split (``0.1``, strictly between 0 and 1).
        sample: Take a random subset of this many items (or this fraction), drawn with
            ``seed``; the same seed and split always give the same ids, in dataset order.
            Exclusive with ``limit``.
        seed: Seed for few-shot selection and for ``sample``.
        split: Override the task's evaluation split.

    ``limit`` and ``sample`` are applied once, by `select_items`; tasks return every item.
    """

    data_dir: Path | None = None
    limit: int | float | None = None
    sample: int | float | None = None
    seed: int = 1234
    split: str | None = None

    def resolved_data_dir(self) -> Path | None:
        # Absolute, so that a relative folder (from the command line or the environment) means
        # the working directory wherever it is later joined (e.g. inside a YAML task's folder).
        if self.data_dir is not None:
            return Path(self.data_dir).expanduser().absolute()
        return current_settings().data_dir


@dataclass
class DatasetInfo:
    """Where the samples came from, for the run record.

    Attributes:
        name: Dataset name.
        source: "local" or "hub" (or "package" for data inside a wheel).
        location: Folder, file, hub id or package resource.
        split: The split evaluated.
        revision: Hub revision when loaded from the hub.
        files: File name to sha256 of every local file read.
        n_total: Items in the split before ``limit``.
    """

    name: str
    source: str
    location: str
    split: str
    revision: str | None = None
    files: dict[str, str] = field(default_factory=dict)
    n_total: int = 0

    @classmethod
    def local(
        cls, name: str, folder: Path, split: str, files: list[Path], n_total: int
    ) -> DatasetInfo:
        """Info for a split read from local ``files`` in ``folder``, each hashed (sha256)."""
        return cls(
            name,
            "local",
            str(folder),
            split,
            files={f.name: sha256_file(f) for f in files},
            n_total=n_total,
        )


@dataclass
class Dataset:
    samples: list[Sample]
    info: DatasetInfo


def sha256_file(path: Path, chunk: int = 1 << 20) -> str:
    """Hex sha256 of a file's bytes."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()


def dataset_dir(options: DataOptions, name: str, required: list[str]) -> Path | None:
    """The local folder for dataset ``name``, or None if no data dir is configured.

    Raises:
        DataError: A data dir is configured but lacks the dataset's files.
    """
    root = options.resolved_data_dir()
    if root is None:
        return None
    if not root.is_dir():
        raise DataError(f"data dir {root} does not exist; pass --data-dir or set {DATA_DIR_ENV}")
    folder = root / name
    missing = [f for f in required if not (folder / f).is_file()]
    if missing:
        raise DataError(
            f"{folder} lacks {', '.join(missing)}; put the {name} files there "
            f"or point --data-dir/{DATA_DIR_ENV} at a folder that has {name}/"
        )
    return folder


def not_utf8(path: Path) -> DataError:
    """The one-line error for a data file that is not UTF-8: its first bad byte and offset."""
    gz = str(path).endswith(".gz")
    with (gzip.open if gz else open)(path, "rb") as f:
        data = f.read()
    where = ""
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as e:
        inside = " of the decompressed data" if gz else ""
        where = f" (byte 0x{data[e.start]:02x} at byte offset {e.start}{inside})"
    return DataError(f"{path}: not UTF-8 text{where}; re-save the file as UTF-8")


def read_text(path: Path) -> str:
    """A data file's text; a file that is not UTF-8 is a `DataError` naming the byte."""
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise not_utf8(path) from None


def read_jsonl(path: Path, required: tuple[str, ...] = ()) -> Iterator[dict[str, Any]]:
    """Yields the rows of a JSONL file (gzipped if it ends in ``.gz``), naming file and line on
    any malformed row (and the byte offset of any byte that is not UTF-8)."""
    try:
        yield from _jsonl_rows(path, required)
    except UnicodeDecodeError:
        raise not_utf8(path) from None


def _jsonl_rows(path: Path, required: tuple[str, ...]) -> Iterator[dict[str, Any]]:
    opener = gzip.open if str(path).endswith(".gz") else open
    with opener(path, "rt", encoding="utf-8") as f:
        for lineno, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as e:
                raise DataError(
                    f"{path}:{lineno}: not valid JSON ({e.msg}); fix or remove that line"
                ) from None
            if not isinstance(row, dict):
                raise DataError(
                    f"{path}:{lineno}: expected a JSON object, got {type(row).__name__}"
                )
            missing = [k for k in required if k not in row]
            if missing:
                raise DataError(f"{path}:{lineno}: row lacks field(s) {', '.join(missing)}")
            yield row


def read_csv(path: Path, required: tuple[str, ...] = ()) -> Iterator[dict[str, str]]:
    """Yields the rows of a CSV file with a header, naming file and line on a bad row (and
    the byte offset of any byte that is not UTF-8)."""
    try:
        yield from _csv_rows(path, required)
    except UnicodeDecodeError:
        raise not_utf8(path) from None


def _csv_rows(path: Path, required: tuple[str, ...]) -> Iterator[dict[str, str]]:
    with open(path, encoding="utf-8", newline="") as f:
        reader = csv.DictReader(f)
        missing = [k for k in required if k not in (reader.fieldnames or [])]
        if missing:
            raise DataError(f"{path}: header lacks column(s) {', '.join(missing)}")
        for row in reader:
            if any(row.get(k) in (None, "") for k in required):
                raise DataError(f"{path}:{reader.line_num}: empty value in {', '.join(required)}")
            yield row


def load_hub(
    hub_id: str, split: str, config: str | None = None
) -> tuple[list[dict[str, Any]], str | None]:
    """Loads a split from the Hugging Face hub; returns rows and the resolved revision.

    Raises:
        DataError: ``datasets`` is missing or the hub cannot be reached.
    """
    try:
        import datasets
    except ImportError:
        raise DataError(
            f"no local data for {hub_id} and the `datasets` package is missing; "
            f"pass --data-dir or `pip install datasets`"
        ) from None
    if os.environ.get("HF_DATASETS_OFFLINE") == "1" or os.environ.get("HF_HUB_OFFLINE") == "1":
        raise DataError(
            f"{hub_id} is not available offline; pass --data-dir or set {DATA_DIR_ENV} "
            f"to a folder holding the dataset"
        )
    try:
        ds = datasets.load_dataset(hub_id, config, split=split)
    except Exception as e:  # noqa: BLE001 - network, auth, missing split: all user-fixable
        raise DataError(
            f"could not load {hub_id} ({split}) from the hub: {type(e).__name__}: "
            f"{str(e).splitlines()[0] if str(e) else ''}; pass --data-dir for local data"
        ) from None
    revision = getattr(getattr(ds, "info", None), "version", None)
    return [dict(r) for r in ds], str(revision) if revision else None


def select_items(dataset: Dataset, options: DataOptions) -> Dataset:
    """The items to evaluate: the first ``limit``, a seeded random ``sample``, or all.

    This is the one place ``--limit`` and ``--sample`` are applied; tasks return every item
    of their split. A fraction is rounded to the nearest whole count, at least one item. A
    sample keeps the dataset's order, so paired runs list their items alike.

    Raises:
        DataError: A bad count or fraction, or both ``limit`` and ``sample``.
    """
    if options.limit is not None and options.sample is not None:
        raise DataError("--limit and --sample both choose items; pass only one of them")
    total = len(dataset.samples)
    if options.limit is not None:
        k = item_count(options.limit, total, "--limit")
        return Dataset(dataset.samples[:k], dataset.info)
    if options.sample is not None:
        k = item_count(options.sample, total, "--sample")
        rng = random.Random(f"harness-sample:{options.seed}")
        picked = sorted(rng.sample(range(total), min(k, total)))
        return Dataset([dataset.samples[i] for i in picked], dataset.info)
    return dataset


def item_count(value: int | float, total: int, flag: str) -> int:
    """A count or fraction (0 < x < 1) of ``total`` items as a whole number of items.

    Raises:
        DataError: ``value`` is negative, a fraction outside (0, 1), or not a number.
    """
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise DataError(f"{flag} {value!r}: pass a whole number of items or a fraction 0<x<1")
    if isinstance(value, float) and not value.is_integer():
        if not 0 < value < 1:
            raise DataError(f"{flag} {value}: a fraction must lie strictly between 0 and 1")
        return max(1, round(value * total))
    if value < 0:
        raise DataError(f"{flag} {value}: pass a whole number of items, 0 or more")
    return int(value)
