"""The drift record written as ``drift.json`` (pydantic, versioned like the run record).

A run folder holding a ``drift.json`` gets a drift section in the HTML report; the adapter
manifest holds one for its validation data against its training data.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

DRIFT_SCHEMA_VERSION = 1
DRIFT_FILE = "drift.json"
PCA_FILE = "drift_pca.png"


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class SideRecord(_Model):
    source: str = Field(description="the source as written (FILE:FIELD, TASK:SPLIT, RUN:outputs)")
    n: int = Field(description="texts compared (after --max-items)")
    n_total: int = Field(description="texts in the source")


class StatRecord(_Model):
    name: str = Field(description="length_ks, label_chi2, token_chi2, embedding_wasserstein, ...")
    test: str = Field(description="what the statistic and its p-value are")
    statistic: float
    p_value: float
    significant: bool = Field(description="p_value < alpha")
    detail: dict[str, Any] = Field(default_factory=dict, description="means, dof, bandwidth...")


class DriftRecord(_Model):
    """Two text samples compared: every statistic with its p-value."""

    schema_version: int = Field(DRIFT_SCHEMA_VERSION, description="version of this format")
    created_at: str = Field(description="ISO-8601 UTC time of the comparison")
    a: SideRecord
    b: SideRecord
    alpha: float = Field(description="significance level of every test")
    seed: int = Field(description="seed of --max-items sampling and the permutations")
    permutations: int = Field(description="relabellings behind each embedding p-value")
    embedder: str | None = Field(None, description="embedding model folder; None: not embedded")
    stats: list[StatRecord]

    @property
    def drifted(self) -> list[str]:
        """Names of the statistics that are significant."""
        return [s.name for s in self.stats if s.significant]


def write_drift(folder: Path, record: DriftRecord) -> Path:
    """Writes ``folder/drift.json``; returns its path."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / DRIFT_FILE
    path.write_text(record.model_dump_json(indent=2), encoding="utf-8")
    return path


def read_drift(path: Path) -> DriftRecord:
    """Reads a ``drift.json`` (or the one in folder ``path``).

    Raises:
        ValueError: An unknown schema version.
    """
    path = path / DRIFT_FILE if path.is_dir() else path
    data = json.loads(path.read_text(encoding="utf-8"))
    if data.get("schema_version") != DRIFT_SCHEMA_VERSION:
        raise ValueError(f"{path}: drift schema_version {data.get('schema_version')} unknown")
    return DriftRecord.model_validate(data)
