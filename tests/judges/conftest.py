"""Judge test fixtures: a socket guard that refuses (and records) any non-loopback connection,
and a harness home (request cache, warm-server state) inside the test's folder."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

LOOPBACK = ("127.0.0.1", "::1", "localhost")


@pytest.fixture
def no_network(monkeypatch: pytest.MonkeyPatch) -> list[object]:
    """Refuses connections to anything but 127.0.0.1; returns the list of refused addresses."""
    attempts: list[object] = []
    real_connect = socket.socket.connect

    def guarded(self: socket.socket, address: object) -> object:
        host = address[0] if isinstance(address, tuple) else str(address)
        if self.family in (socket.AF_INET, socket.AF_INET6) and host not in LOOPBACK:
            attempts.append(address)
            raise OSError(f"network access refused in test: {address}")
        return real_connect(self, address)

    monkeypatch.setattr(socket.socket, "connect", guarded)
    return attempts


@pytest.fixture
def judge_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """``$HARNESS_HOME`` in the test's folder: the judge's request cache stays out of ~/.cache."""
    monkeypatch.setenv("HARNESS_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("HARNESS_CACHE", raising=False)
    return tmp_path / "home"
