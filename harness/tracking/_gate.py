"""The gate's side of a tracker run: its verdict, one figure and one parameter per check."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from harness.tracking._group import GroupPayload

_KEY = re.compile(r"[^\w.\-]+")


def check_key(task: str, metric: str, check: str) -> str:
    """``gsm8k/strict_match/regression`` (characters a tracker may refuse become ``_``)."""
    return "/".join(_KEY.sub("_", part) for part in (task, metric, check))


def gate_group(result: Any, policy_path: Path, files: list[Path]) -> GroupPayload:
    """A payload for one gate decision: ``gate/passed``, ``gate/failing`` and, per check,
    ``check/TASK/METRIC/CHECK`` = 1 (pass) or 0, with its status and reason as a parameter."""
    failed = {id(r) for r in result.failed}
    metrics = {"gate/passed": 0.0 if failed else 1.0, "gate/failing": float(len(failed))}
    params = {"policy": str(policy_path)}
    for r in result.results:
        key = check_key(r.task, r.metric, r.check)
        metrics[f"check/{key}"] = 1.0 if r.status == "pass" else 0.0
        params[f"check/{key}"] = f"{r.status}: {r.reason}"[:6000]
        for name in ("delta", "ci_low", "ci_high", "p_value"):
            value = r.numbers.get(name)
            if isinstance(value, int | float) and not isinstance(value, bool):
                metrics[f"check/{key}/{name}"] = float(value)
    return GroupPayload(
        name=f"gate {policy_path.stem}",
        job="gate",
        params=params,
        metrics=metrics,
        artifacts=[f for f in files if f.is_file()],
        tags={"harness.verdict": "failed" if failed else "passed"},
    )
