"""The warm-up/stable/decay schedule: its shape by steps and by wall time, and in a real run."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from adapters.recipe import load_recipe
from adapters.schedule import Budget, wsd_factor, wsd_scheduler


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_factor_warms_up_holds_and_decays_to_zero() -> None:
    f = [wsd_factor(s, s / 10, warmup_steps=2, decay_ratio=0.4) for s in range(11)]
    assert f[:3] == [0.0, 0.5, 1.0]
    assert f[3:7] == [1.0, 1.0, 1.0, 1.0]  # progress <= 0.6: the peak
    assert f[7:] == pytest.approx([0.75, 0.5, 0.25, 0.0])


def test_budget_progress_is_the_larger_of_steps_and_time() -> None:
    clock = FakeClock()
    budget = Budget(planned_steps=100, max_seconds=60, clock=clock)
    assert budget.progress(10) == 0.1  # clock not started: time counts as 0
    budget.start()
    clock.now += 30
    assert budget.progress(10) == 0.5
    assert budget.progress(80) == 0.8
    clock.now += 60
    assert budget.progress(10) == 1.0  # past the time limit: capped
    assert Budget(planned_steps=4).progress(3) == 0.75  # no time limit


def test_time_budget_drives_the_optimizer_rate() -> None:
    import torch

    clock = FakeClock()
    budget = Budget(planned_steps=1000, max_seconds=100, clock=clock)
    opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.1)
    sched = wsd_scheduler(opt, budget, warmup_steps=0, decay_ratio=0.2)
    budget.start()
    rates = []
    for seconds in (10, 70, 85, 95, 100):  # a few steps, far from the planned 1000
        clock.now += seconds - budget.elapsed()
        opt.step()
        sched.step()
        rates.append(opt.param_groups[0]["lr"])
    assert rates == pytest.approx([0.1, 0.1, 0.075, 0.025, 0.0])
    # A checkpoint of the scheduler holds no clock: resuming gets a fresh budget.
    assert "Budget" not in repr(sched.state_dict())


@pytest.mark.slow
def test_training_run_logs_the_decayed_rate(tmp_path: Path, bundled_model: Any) -> None:
    from adapters.train import TrainRequest, fit, setup

    recipe = load_recipe(
        "cpu",
        [
            "max_train_items=8",
            "batch_size=2",
            "lr=2e-3",
            "max_steps=4",
            "warmup_steps=0",
            "lr_scheduler=warmup_stable_decay",
            "decay_ratio=0.5",
            "validation.max_items=2",
            "validation.every_steps=4",
            "logging_steps=1",
            "lora.r=4",
            "max_minutes=null",  # steps alone drive it here (time: the fake-clock tests)
        ],
    )
    session = setup(TrainRequest(out=tmp_path / "wsd", recipe=recipe, task="viggo"))
    fit(session)
    logged = {
        e["step"]: e["learning_rate"] for e in session.trainer.state.log_history if "loss" in e
    }
    # Logged at step k: the rate step k used, the factor at k - 1 steps done. The last half of
    # the 4 planned steps decays: factors 1, 1, 1 (progress 2/4 is the edge), 0.5; 0 comes next.
    assert [logged[k] for k in (1, 2, 3, 4)] == pytest.approx([2e-3, 2e-3, 2e-3, 1e-3])
    # The manifest's loss history (and so the loss-curve plot) carries the same rates.
    from adapters.manifest import loss_history

    history = loss_history(session.trainer.state.log_history)
    assert {p.step: p.learning_rate for p in history if p.train_loss is not None} == logged


def test_time_limit_stops_once_with_a_last_eval_and_save_on_the_budget_clock() -> None:
    from types import SimpleNamespace

    from adapters.callbacks import TimeLimit

    clock = FakeClock()
    budget = Budget(planned_steps=1000, max_seconds=60, clock=clock)
    limit = TimeLimit(budget)
    state = SimpleNamespace(global_step=0)

    def step(seconds: float) -> SimpleNamespace:
        clock.now += seconds
        state.global_step += 1
        control = SimpleNamespace(
            should_training_stop=False, should_evaluate=False, should_save=False
        )
        limit.on_step_end(None, state, control)
        return control

    clock.now += 500  # set-up time before training starts does not count
    limit.on_train_begin(None, state, None)
    assert budget.progress(0) == 0.0
    assert not step(59).should_training_stop
    stopped = step(1)
    assert stopped.should_training_stop and stopped.should_evaluate and stopped.should_save
    assert not step(1).should_training_stop  # asked once
