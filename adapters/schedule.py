"""Warm-up, stable, decay: a learning-rate schedule that fits a step *or* a wall-time budget.

Step-based schedules (linear, cosine) assume the run reaches its planned steps. A run capped by
``max_minutes`` on a CPU stops long before that, still at its peak rate: the loss drop that a
final decay buys is never collected. Here the rate warms up over ``warmup_steps``, holds, and
decays linearly to zero over the last ``decay_ratio`` of the budget, where progress is the
larger of the step fraction and the wall-time fraction; so the decay ends where
`adapters.callbacks.TimeLimit` stops the run, or at the last planned step.

The wall clock starts when training starts (`Budget.start`, called by ``TimeLimit``); a resumed
run gets a fresh time budget, as its time limit does.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Budget:
    """Training progress in [0, 1]: the larger of steps done / planned and time used / allowed."""

    planned_steps: int
    max_seconds: float | None = None
    clock: Callable[[], float] = time.monotonic
    started_at: float | None = field(default=None, init=False)

    def start(self) -> None:
        self.started_at = self.clock()

    def elapsed(self) -> float:
        return 0.0 if self.started_at is None else self.clock() - self.started_at

    def progress(self, step: int) -> float:
        by_steps = step / self.planned_steps if self.planned_steps > 0 else 0.0
        by_time = self.elapsed() / self.max_seconds if self.max_seconds else 0.0
        return min(1.0, max(by_steps, by_time))


def wsd_factor(step: int, progress: float, warmup_steps: int, decay_ratio: float) -> float:
    """The multiplier of the peak rate: a linear warm-up, 1, then linear to 0 as progress ends."""
    warm = step / warmup_steps if warmup_steps and step < warmup_steps else 1.0
    decay_from = 1.0 - decay_ratio
    decay = 1.0 if progress <= decay_from else max(0.0, (1.0 - progress) / decay_ratio)
    return min(warm, decay)


def wsd_scheduler(optimizer: Any, budget: Budget, warmup_steps: int, decay_ratio: float) -> Any:
    """A ``LambdaLR`` following `wsd_factor` on ``budget``.

    The multiplier is a closure, not a callable object: ``LambdaLR.state_dict`` saves the
    attributes of callable objects into checkpoints, which would restore an old start time.
    """
    from torch.optim.lr_scheduler import LambdaLR

    def factor(step: int) -> float:
        return wsd_factor(step, budget.progress(step), warmup_steps, decay_ratio)

    return LambdaLR(optimizer, factor)
