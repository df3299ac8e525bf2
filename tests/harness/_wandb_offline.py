"""Reads a W&B offline run file (``offline-run-*/run-*.wandb``) back into plain values.

The file is W&B's record log: a 7-byte header (``:W&B``, magic, version), then protobuf
``Record`` messages in 32 KiB blocks, each chunk behind a 7-byte header (crc32, little-endian
length, type: 1 full, 2 first, 3 middle, 4 last) — the LevelDB log layout. The messages are
decoded with W&B's own protobuf classes (``wandb.proto.wandb_internal_pb2``).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

BLOCK = 32768
HEADER = 7


def _chunks(data: bytes) -> Iterator[bytes]:
    pos, pending = HEADER, b""
    while pos + HEADER <= len(data):
        left = BLOCK - pos % BLOCK
        if left < HEADER:  # a block's tail too short for a header is padding
            pos += left
            continue
        length = int.from_bytes(data[pos + 4 : pos + 6], "little")
        kind = data[pos + 6]
        chunk = data[pos + HEADER : pos + HEADER + length]
        pos += HEADER + length
        if kind == 1:
            yield chunk
        elif kind == 2:
            pending = chunk
        elif kind == 3:
            pending += chunk
        elif kind == 4:
            yield pending + chunk
        else:  # zero padding at the end of a block
            pos += BLOCK - pos % BLOCK if pos % BLOCK else 0


@dataclass
class OfflineRun:
    """What a test checks of one offline run."""

    run_id: str = ""
    name: str = ""
    group: str = ""
    job_type: str = ""
    project: str = ""
    config: dict[str, Any] = field(default_factory=dict)
    summary: dict[str, Any] = field(default_factory=dict)
    history: list[dict[str, Any]] = field(default_factory=list)
    artifact_files: list[str] = field(default_factory=list)
    exit_code: int | None = None
    start_time: float = 0.0


def read_offline_run(path: Path) -> OfflineRun:
    """Decodes ``run-*.wandb`` into an `OfflineRun`."""
    from wandb.proto import wandb_internal_pb2 as pb

    out = OfflineRun()
    for chunk in _chunks(path.read_bytes()):
        record = pb.Record()
        record.ParseFromString(chunk)
        kind = record.WhichOneof("record_type")
        if kind == "run":
            r = record.run
            out.run_id, out.name, out.group = r.run_id, r.display_name, r.run_group
            out.job_type, out.project = r.job_type, r.project
            out.start_time = r.start_time.seconds + r.start_time.nanos / 1e9
            for item in r.config.update:
                out.config[item.key] = json.loads(item.value_json)
        elif kind == "config":
            for item in record.config.update:
                out.config[item.key] = json.loads(item.value_json)
        elif kind == "summary":
            for item in record.summary.update:
                out.summary[item.key or "/".join(item.nested_key)] = json.loads(item.value_json)
        elif kind == "history":
            row = {
                (i.key or "/".join(i.nested_key)): json.loads(i.value_json)
                for i in record.history.item
            }
            out.history.append(row)
        elif kind == "artifact":
            out.artifact_files += [m.path for m in record.artifact.manifest.contents]
        elif kind == "exit":
            out.exit_code = record.exit.exit_code
    return out


def offline_runs(wandb_dir: Path) -> list[OfflineRun]:
    """Every offline run under ``WANDB_DIR``, in the order they started (folder names only
    have whole seconds)."""
    files = wandb_dir.glob("wandb/offline-run-*/run-*.wandb")
    return sorted((read_offline_run(f) for f in files), key=lambda r: r.start_time)
