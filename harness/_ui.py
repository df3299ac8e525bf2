"""Progress reporting. The runner talks to a `Reporter`; the CLI plugs in a rich one."""

from __future__ import annotations

import time
from typing import Any


class Reporter:
    """Receives progress events; the base class ignores them (library use, tests)."""

    def start(self, label: str, total: int, cached: int) -> None:
        """A variant begins: ``total`` requests of which ``cached`` come from the cache."""

    def advance(self, items: int, tokens_out: int) -> None:
        """``items`` more requests finished, producing ``tokens_out`` tokens."""

    def finish(self) -> None:
        """The variant's requests are all done."""

    def message(self, text: str) -> None:
        """A one-line status message."""


class RichReporter(Reporter):
    """A rich progress bar: items, items/s, tokens/s and ETA."""

    def __init__(self, console: Any = None) -> None:
        from rich.console import Console

        self.console = console or Console(stderr=True)
        self._progress: Any = None
        self._task: Any = None
        self._tokens = 0
        self._t0 = 0.0

    def start(self, label: str, total: int, cached: int) -> None:
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )

        self._progress = Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[rate]}"),
            TimeElapsedColumn(),
            TextColumn("ETA"),
            TimeRemainingColumn(),
            console=self.console,
            transient=False,
        )
        self._progress.start()
        self._tokens, self._t0 = 0, time.perf_counter()
        self._task = self._progress.add_task(
            label, total=total, completed=cached, rate=f"{cached} cached"
        )
        self._cached = cached

    def advance(self, items: int, tokens_out: int) -> None:
        self._tokens += tokens_out
        dt = max(time.perf_counter() - self._t0, 1e-9)
        done = self._progress.tasks[0].completed + items - self._cached
        rate = f"{done / dt:.2f} it/s {self._tokens / dt:.1f} tok/s"
        self._progress.update(self._task, advance=items, rate=rate)

    def finish(self) -> None:
        if self._progress is not None:
            self._progress.stop()
            self._progress = None

    def message(self, text: str) -> None:
        self.console.print(text)
