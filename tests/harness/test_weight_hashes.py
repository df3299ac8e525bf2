"""Identifying weights without re-reading them: hub blob names, the per-file memo, the time."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from harness._data import sha256_file
from harness._models import hub_blob_sha256, resolve_model, weights_sha256


@pytest.fixture(autouse=True)
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("HARNESS_HOME", str(tmp_path / "home"))
    return tmp_path / "home"


def _hub_snapshot(root: Path, payload: bytes) -> tuple[Path, str]:
    """A Hugging Face cache layout: snapshots/<rev>/file -> ../../blobs/<sha256>."""
    sha = hashlib.sha256(payload).hexdigest()
    (root / "blobs").mkdir(parents=True)
    (root / "blobs" / sha).write_bytes(payload)
    (root / "blobs" / ("a" * 40)).write_text("{}")  # a git (sha1) blob: config.json
    snap = root / "snapshots" / "rev1"
    snap.mkdir(parents=True)
    (snap / "model.safetensors").symlink_to(Path("../../blobs") / sha)
    (snap / "config.json").symlink_to(Path("../../blobs") / ("a" * 40))
    return snap, sha


def test_hub_files_are_identified_by_their_blob_sha256(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    snap, sha = _hub_snapshot(tmp_path / "models--org--m", b"weights" * 1000)
    assert hub_blob_sha256(snap / "model.safetensors") == sha
    assert hub_blob_sha256(snap / "config.json") is None  # sha1-named: not a sha256
    expected = hashlib.sha256(b"model.safetensors\0" + sha.encode() + b"\n").hexdigest()

    def no_reading(path: Path) -> str:
        raise AssertionError(f"{path} was read")

    monkeypatch.setattr("harness._data.sha256_file", no_reading)
    assert weights_sha256(snap) == expected
    # A plain folder with the same bytes hashes to the same value (the bytes' sha256).
    plain = tmp_path / "plain"
    plain.mkdir()
    (plain / "model.safetensors").write_bytes(b"weights" * 1000)
    monkeypatch.setattr("harness._data.sha256_file", sha256_file)
    assert weights_sha256(plain) == expected


def test_local_folders_are_hashed_once_and_the_time_is_recorded(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "m"
    folder.mkdir()
    (folder / "config.json").write_text("{}")
    (folder / "model.safetensors").write_bytes(b"x" * 4096)
    reads: list[Path] = []

    def counted(path: Path) -> str:
        reads.append(path)
        return sha256_file(path)

    monkeypatch.setattr("harness._data.sha256_file", counted)
    first = resolve_model(str(folder))
    second = resolve_model(str(folder))
    assert first.sha256 == second.sha256 and len(reads) == 1  # remembered
    assert first.hash_s is not None and first.hash_s >= 0 and second.hash_s is not None
