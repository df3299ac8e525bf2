"""The trainer says what it is doing from the start: stages, training start, the first step."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from adapters.callbacks import ProgressPrinter, stage


def test_stage_and_first_step_lines(capsys: pytest.CaptureFixture[str]) -> None:
    stage("loading smollm2 (fp32 on cpu)")
    printer = ProgressPrinter()
    state = SimpleNamespace(global_step=0, max_steps=40, num_input_tokens_seen=0)
    args = SimpleNamespace(logging_steps=10)
    printer.on_train_begin(args, state, None)
    state.global_step = 1
    printer.on_step_end(args, state, None)
    state.global_step = 2
    printer.on_step_end(args, state, None)  # only the first step gets its own line
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 3
    assert lines[0].startswith("train: loading smollm2 (fp32 on cpu) (+")
    assert lines[1].startswith("train: training started: 40 steps, a line every 10 (+")
    assert lines[2].startswith("train: step 1/40 took ") and lines[2].endswith("s")
