"""Saying what a long wait is for: a ticker that prints elapsed time until the wait ends.

``with waiting("the vLLM engine to start"):`` prints one line to stderr at once and then
every ``every`` seconds (``waiting for the vLLM engine to start (15 s)...``), so a silent
minute never looks like a hang.
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TextIO


@contextmanager
def waiting(what: str, every: float = 10.0, stream: TextIO | None = None) -> Iterator[None]:
    """Prints ``waiting for WHAT (N s)...`` now and every ``every`` seconds until the block
    ends, then how long it took."""
    out = stream or sys.stderr
    t0 = time.monotonic()
    done = threading.Event()

    def tick() -> None:
        while not done.wait(every):
            print(f"waiting for {what} ({time.monotonic() - t0:.0f} s)...", file=out, flush=True)

    print(f"waiting for {what}...", file=out, flush=True)
    thread = threading.Thread(target=tick, daemon=True, name="harness-waiting")
    thread.start()
    try:
        yield
    finally:
        done.set()
        thread.join()
    print(f"{what}: done in {time.monotonic() - t0:.0f} s", file=out, flush=True)
