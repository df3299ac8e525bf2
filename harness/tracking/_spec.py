"""What ``--log-to`` names: a tracker kind and where its runs go.

``mlflow`` alone uses MLflow's own default (``$MLFLOW_TRACKING_URI``, else ``./mlruns``);
``mlflow:http://127.0.0.1:5000`` names a tracking server or any MLflow tracking URI.
``wandb`` alone logs to the W&B project ``harness``; ``wandb:PROJECT`` names the project
(``WANDB_MODE=offline`` keeps the runs on disk).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from harness._errors import HarnessError

Kind = Literal["mlflow", "wandb"]
KINDS: tuple[Kind, ...] = ("mlflow", "wandb")
DEFAULT_WANDB_PROJECT = "harness"


@dataclass(frozen=True)
class TrackerSpec:
    """One ``--log-to`` value.

    Attributes:
        kind: "mlflow" or "wandb".
        target: MLflow tracking URI or W&B project; None: the tool's default.
    """

    kind: Kind
    target: str | None = None

    def __str__(self) -> str:
        return self.kind + (f":{self.target}" if self.target else "")


def parse_tracker(value: str) -> TrackerSpec:
    """Parses ``mlflow[:TRACKING_URI]`` or ``wandb[:PROJECT]``; a bad value is a `HarnessError`."""
    kind, _, target = value.partition(":")
    if kind not in KINDS:
        raise HarnessError(f"--log-to {value!r}: expected mlflow[:TRACKING_URI] or wandb[:PROJECT]")
    return TrackerSpec(kind, target or None)  # type: ignore[arg-type]
