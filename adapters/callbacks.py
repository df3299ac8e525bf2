"""Trainer callbacks: a one-line-per-log progress report and a wall-clock limit.

The progress line (step, loss, eval loss, tokens/s, ETA) is plain text so it reads the same in a
terminal and in a log file. The time limit stops training after ``max_minutes`` and asks for a
last evaluation and checkpoint, so the best-checkpoint choice sees the final weights.
"""

from __future__ import annotations

import sys
import time
from typing import Any

from transformers import TrainerCallback

from adapters.schedule import Budget

_T0 = time.time()


def stage(what: str) -> None:
    """Says what the trainer is doing before its first step line (each such wait can be long:
    formatting data, loading the model, building the trainer), with the time since start."""
    print(f"train: {what} (+{time.time() - _T0:.0f}s)", file=sys.stderr, flush=True)


def _clock(seconds: float) -> str:
    seconds = max(0, int(seconds))
    return f"{seconds // 60}m{seconds % 60:02d}s"


class ProgressPrinter(TrainerCallback):  # type: ignore[misc]
    """Prints ``step i/N | loss | eval_loss | tokens/s | ETA`` at every log.

    With a time limit (``budget.max_seconds``), the ETA is whichever comes first: the last step or
    the limit.
    """

    def __init__(self, budget: Budget | None = None) -> None:
        self.budget = budget
        self.start: float | None = None
        self.start_step = 0
        self.start_tokens = 0

    def on_train_begin(self, args: Any, state: Any, control: Any, **kw: Any) -> None:
        self.start = time.time()
        self.start_step = state.global_step
        self.start_tokens = int(state.num_input_tokens_seen or 0)
        stage(f"training started: {state.max_steps} steps, a line every {args.logging_steps}")

    def on_step_end(self, args: Any, state: Any, control: Any, **kw: Any) -> None:
        # The first logged line can be many steps away: say at once how long one step takes.
        if self.start is not None and state.global_step == self.start_step + 1:
            took = time.time() - self.start
            print(
                f"train: step {state.global_step}/{state.max_steps} took {took:.1f}s",
                file=sys.stderr,
                flush=True,
            )

    def on_log(
        self, args: Any, state: Any, control: Any, logs: dict[str, Any] | None = None, **kw: Any
    ) -> None:
        if not logs or self.start is None:
            return
        elapsed = time.time() - self.start
        done = max(1, state.global_step - self.start_step)
        tokens = int(state.num_input_tokens_seen or 0) - self.start_tokens
        parts = [f"step {state.global_step}/{state.max_steps}"]
        if "loss" in logs:
            parts.append(f"loss {logs['loss']:.4f}")
        if "eval_loss" in logs:
            parts.append(f"eval_loss {logs['eval_loss']:.4f}")
        parts.append(f"{tokens / elapsed:.0f} tok/s" if elapsed > 0 else "- tok/s")
        eta = elapsed / done * (state.max_steps - state.global_step)
        if self.budget is not None and self.budget.max_seconds:
            eta = min(eta, self.budget.max_seconds - self.budget.elapsed())
        parts.append(f"elapsed {_clock(elapsed)} ETA {_clock(eta)}")
        print("train: " + " | ".join(parts), file=sys.stderr, flush=True)


class TimeLimit(TrainerCallback):  # type: ignore[misc]
    """Stops training when ``budget``'s time is up, with a final eval and checkpoint.

    It starts ``budget``'s clock, so a time-based learning-rate decay ends where it stops.
    """

    def __init__(self, budget: Budget) -> None:
        self.budget = budget
        self.hit = False

    def on_train_begin(self, args: Any, state: Any, control: Any, **kw: Any) -> None:
        self.budget.start()

    def on_step_end(self, args: Any, state: Any, control: Any, **kw: Any) -> None:
        limit = self.budget.max_seconds
        if limit and self.budget.elapsed() >= limit and not self.hit:
            self.hit = True
            print(
                f"train: time limit reached at step {state.global_step}",
                file=sys.stderr,
                flush=True,
            )
            control.should_training_stop = True
            control.should_evaluate = True
            control.should_save = True
