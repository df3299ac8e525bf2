"""The request cache: SQLite, keyed by everything that determines a model's answer.

The key hashes the backend, model weights, adapter weights, the rendered prompt, the
generation parameters and the sample index (for n > 1). Each completion is committed as soon
as it arrives, so a run killed with ``kill -9`` loses at most the batch in flight and the rerun
of the same command resumes from here; a second identical run makes zero model calls.
"""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import threading
from pathlib import Path
from typing import Any

CACHE_ENV = "HARNESS_CACHE"


def default_cache_path() -> Path:
    """``$HARNESS_CACHE``, else ``~/.cache/harness/requests.sqlite``."""
    env = os.environ.get(CACHE_ENV)
    if env:
        return Path(env)
    return harness_home() / "requests.sqlite"


def harness_home() -> Path:
    """``$HARNESS_HOME``, else ``$XDG_CACHE_HOME/harness`` (default ``~/.cache/harness``)."""
    env = os.environ.get("HARNESS_HOME")
    if env:
        return Path(env)
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg) if xdg else Path.home() / ".cache") / "harness"


def request_key(**parts: Any) -> str:
    """A stable sha256 over the JSON of ``parts`` (sorted keys)."""
    blob = json.dumps(parts, sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()


class RequestCache:
    """A key → JSON value store in SQLite (WAL mode; safe across processes)."""

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
                "created REAL DEFAULT (julianday('now')))"
            )
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

    def put_many(self, items: dict[str, Any]) -> None:
        """Stores and commits values (one transaction)."""
        if not items:
            return
        with self._lock:
            self._db.executemany(
                "INSERT OR REPLACE INTO requests (key, value) VALUES (?, ?)",
                [(k, json.dumps(v, ensure_ascii=False)) for k, v in items.items()],
            )
            self._db.commit()

    def __len__(self) -> int:
        with self._lock:
            return int(self._db.execute("SELECT COUNT(*) FROM requests").fetchone()[0])

    def close(self) -> None:
        with self._lock:
            self._db.close()
