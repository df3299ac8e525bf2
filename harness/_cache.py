"""The request cache: SQLite, keyed by everything that determines a model's answer.

The key hashes the backend kind, model weights, adapter weights, the rendered prompt, the
generation parameters (seed included), the sample index (for n > 1) and the backend's
`cache_identity` (dtype, device class, library versions, quantization, context length,
tokenizer and chat-template hash, endpoint and served name of remote backends). Each
completion is committed as soon as it arrives, so a run killed with ``kill -9`` loses at most
the batch in flight and the rerun of the same command resumes from here; a second identical
run makes zero model calls.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness._settings import current_settings


def default_cache_path() -> Path:
    """The installed settings' request cache (``$HARNESS_CACHE`` for the command line, else
    ``~/.cache/harness/requests.sqlite``)."""
    return current_settings().cache


def harness_home() -> Path:
    """The installed settings' home folder (``$HARNESS_HOME`` for the command line, else
    ``$XDG_CACHE_HOME/harness``, default ``~/.cache/harness``)."""
    return current_settings().home


def request_key(**parts: Any) -> str:
    """A stable sha256 over the JSON of ``parts`` (sorted keys)."""
    blob = json.dumps(parts, sort_keys=True, ensure_ascii=False, default=str)
    # surrogatepass: a prompt may quote a reply holding a lone surrogate; valid text hashes as
    # plain UTF-8, so no existing key changes.
    return hashlib.sha256(blob.encode("utf-8", "surrogatepass")).hexdigest()


@dataclass(frozen=True)
class CacheGroup:
    """The entries of one model (and adapter) on one backend.

    Attributes:
        backend: Backend registry name (None: written before entries recorded it).
        model: Model id, with `` + adapter`` for adapter requests.
        entries: Stored answers.
        size: Bytes of keys and values.
        newest: Julian day of the newest entry.
    """

    backend: str | None
    model: str | None
    entries: int
    size: int
    newest: float | None


class RequestCache:
    """A key → JSON value store in SQLite (WAL mode; safe across processes).

    Each row also records when it was written and which backend and model answered, for
    ``harness cache``; databases from before those columns are migrated in place (their rows
    count as written at migration time).
    """

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        try:
            self._db = sqlite3.connect(self.path, timeout=60, check_same_thread=False)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.execute(
                "CREATE TABLE IF NOT EXISTS requests (key TEXT PRIMARY KEY, value TEXT NOT NULL, "
                "created REAL DEFAULT (julianday('now')), backend TEXT, model TEXT)"
            )
            _migrate(self._db)
            self._db.commit()
        except sqlite3.DatabaseError as e:
            from harness._errors import HarnessError

            raise HarnessError(
                f"request cache {self.path} cannot be used ({e}); move it away, pass --cache "
                f"OTHER_FILE, or --no-cache"
            ) from None

    def get_many(self, keys: list[str]) -> dict[str, Any]:
        """Values of the keys present."""
        found: dict[str, Any] = {}
        with self._lock:
            for i in range(0, len(keys), 500):
                chunk = keys[i : i + 500]
                marks = ",".join("?" * len(chunk))
                rows = self._db.execute(
                    f"SELECT key, value FROM requests WHERE key IN ({marks})", chunk
                ).fetchall()
                found.update((k, json.loads(v)) for k, v in rows)
        return found

    def put_many(
        self, items: dict[str, Any], backend: str | None = None, model: str | None = None
    ) -> None:
        """Stores and commits values (one transaction), noting who answered them."""
        if not items:
            return
        with self._lock:
            self._db.executemany(
                "INSERT OR REPLACE INTO requests (key, value, created, backend, model) "
                "VALUES (?, ?, julianday('now'), ?, ?)",
                [(k, _dumps(v), backend, model) for k, v in items.items()],
            )
            self._db.commit()

    def groups(self) -> list[CacheGroup]:
        """Entries and bytes per backend and model, largest first."""
        with self._lock:
            rows = self._db.execute(
                "SELECT backend, model, COUNT(*), SUM(LENGTH(key) + LENGTH(value)), "
                "MAX(created) FROM requests GROUP BY backend, model ORDER BY 4 DESC, 2, 1"
            ).fetchall()
        return [CacheGroup(b, m, int(n), int(size or 0), newest) for b, m, n, size, newest in rows]

    def prune(self, older_than_s: float) -> int:
        """Deletes entries written more than ``older_than_s`` seconds ago; returns how many."""
        return self._delete("WHERE created < julianday('now') - ?", (older_than_s / 86400,))

    def clear(self) -> int:
        """Deletes every entry; returns how many."""
        return self._delete("", ())

    def _delete(self, where: str, args: tuple[Any, ...]) -> int:
        with self._lock:
            n = self._db.execute(f"DELETE FROM requests {where}", args).rowcount
            self._db.commit()
            self._db.execute("VACUUM")  # give the space back to the disk
        return int(n)

    def __len__(self) -> int:
        with self._lock:
            return int(self._db.execute("SELECT COUNT(*) FROM requests").fetchone()[0])

    def close(self) -> None:
        with self._lock:
            self._db.close()


def _dumps(value: Any) -> str:
    """JSON text SQLite can store: a reply's lone surrogates become ``\\uXXXX`` escapes
    (read back unchanged by ``json.loads``) instead of failing the UTF-8 encoding."""
    text = json.dumps(value, ensure_ascii=False)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return json.dumps(value, ensure_ascii=True)
    return text


def _migrate(db: sqlite3.Connection) -> None:
    """Adds the columns older cache files lack (SQLite cannot add a column whose default is
    an expression, so old rows get the migration time as their creation time)."""
    have = {row[1] for row in db.execute("PRAGMA table_info(requests)")}
    for column, kind in (("created", "REAL"), ("backend", "TEXT"), ("model", "TEXT")):
        if column not in have:
            db.execute(f"ALTER TABLE requests ADD COLUMN {column} {kind}")
    if "created" not in have:
        db.execute("UPDATE requests SET created = julianday('now') WHERE created IS NULL")
