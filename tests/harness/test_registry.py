"""The registry: lazy entries, entry points, typo hints."""

from __future__ import annotations

import pytest

from harness import HarnessError, Registry, get_task, tasks
from harness._registry import UnknownNameError


def test_builtin_tasks_found_through_entry_point() -> None:
    assert "gsm8k" in tasks.names()
    assert tasks.get("gsm8k").description.startswith("GSM8K")


def test_typo_gets_did_you_mean() -> None:
    with pytest.raises(UnknownNameError, match=r"unknown task 'gsm8kk'\. Did you mean 'gsm8k'"):
        tasks.get("gsm8kk")


def test_no_hint_for_unrelated_name() -> None:
    with pytest.raises(UnknownNameError) as e:
        tasks.get("zzzzqqq")
    assert "Did you mean" not in str(e.value)


def test_lazy_entry_is_imported_only_on_get() -> None:
    reg: Registry[object] = Registry("thing")
    reg.register("json_dumps", "json:dumps")
    assert reg.names() == ["json_dumps"]
    import json

    assert reg.get("json_dumps") is json.dumps


def test_unknown_task_parameter() -> None:
    with pytest.raises(HarnessError, match="has no parameter shots"):
        get_task("gsm8k", shots=3)
