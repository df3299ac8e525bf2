"""`waiting` says what a long wait is for, at once and then with the elapsed time."""

from __future__ import annotations

import io
import time

import pytest

from harness._waiting import waiting


def test_waiting_ticks_until_done() -> None:
    out = io.StringIO()
    with waiting("the engine to start", every=0.05, stream=out):
        time.sleep(0.22)
    lines = out.getvalue().splitlines()
    assert lines[0] == "waiting for the engine to start..."
    assert len(lines) >= 4  # the first line, at least two ticks, the end
    assert all(x.startswith("waiting for the engine to start (") for x in lines[1:-1])
    assert lines[-1].startswith("the engine to start: done in ")


def test_a_failed_wait_does_not_claim_done() -> None:
    out = io.StringIO()
    with pytest.raises(RuntimeError), waiting("x", every=10, stream=out):
        raise RuntimeError("engine died")
    assert out.getvalue() == "waiting for x...\n"
