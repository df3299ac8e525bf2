"""A tracker's unit of work: one parent (a run group, a training, a gate) and its child runs."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from harness.tracking._payload import RunPayload


@dataclass
class Series:
    """A metric logged step by step (a loss curve)."""

    key: str
    points: list[tuple[int, float]]


@dataclass
class GroupPayload:
    """What one ``--log-to`` call sends.

    Attributes:
        name: The parent run's name (MLflow) or the group's name (W&B).
        job: What the parent stands for: "eval", "train" or "gate".
        children: Run records logged as child runs (MLflow) or group members (W&B).
        params: The parent's own parameters.
        metrics: The parent's own final figures (a gate's verdict per check).
        series: The parent's step-wise metrics (a training's loss curve).
        artifacts: The parent's files (a manifest, a loss plot, JUnit, a report).
        tags: The parent's tags.
    """

    name: str
    job: str
    children: list[RunPayload] = field(default_factory=list)
    params: dict[str, str] = field(default_factory=dict)
    metrics: dict[str, float] = field(default_factory=dict)
    series: list[Series] = field(default_factory=list)
    artifacts: list[Path] = field(default_factory=list)
    tags: dict[str, str] = field(default_factory=dict)

    @property
    def has_own_content(self) -> bool:
        return bool(self.params or self.metrics or self.series or self.artifacts)
