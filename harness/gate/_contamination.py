"""The gate's contamination rule: what a candidate adapter's overlap with its test items means.

Every adapter run records its training data checked against the items it was scored on
(`harness.contamination`). The policy key ``contamination`` decides what flagged items do:

* ``fail`` (default): a candidate with any flagged item fails, in one line naming the overlap;
* ``clean_only``: every check is decided on the items not flagged (paired baselines are
  compared on those same items), and the rule itself passes, saying how many were left out;
* ``warn``: the checks use every item; the rule passes with the overlap in its reason.

A run whose training data could not be checked (``unchecked``) is never taken as clean: the
rule is inconclusive under ``fail`` and ``clean_only`` (so it fails the gate unless
``on_inconclusive: pass``) and passes with the reason under ``warn``. Runs recorded before
this check existed carry no contamination record, and adapters with no record of their
training data (not trained by harness) are ``unknown``: neither gets a rule.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Literal

from harness.gate._checks import CheckResult, Status
from harness.runstore import LoadedRun

Contamination = Literal["fail", "clean_only", "warn"]
SUFFIX = "@clean"


def contamination_check(policy: Contamination, cand: LoadedRun) -> CheckResult | None:
    """The contamination rule's result for one candidate run (None: nothing recorded)."""
    c = cand.record.contamination
    if c is None or c.status == "unknown":
        return None
    numbers: dict[str, object] = {
        "policy": policy,
        "flagged": len(c.flagged),
        "n": c.n,
        "candidate_run": str(cand.path),
    }
    status: Status
    if c.status != "checked":
        status = "pass" if policy == "warn" else "inconclusive"
        reason = f"training data of {cand.label} unchecked ({c.reason}); not known to be clean"
    elif c.flagged:
        shown = ", ".join(c.flagged[:10]) + (", ..." if len(c.flagged) > 10 else "")
        reason = (
            f"{len(c.flagged)} of {c.n} items are in the training data of {cand.label} "
            f"({c.training}): {shown}"
        )
        status = "fail" if policy == "fail" else "pass"
        if policy == "clean_only":
            reason += "; the checks use the other items"
    else:
        status, reason = "pass", f"none of {c.n} items is in the training data ({c.training})"
    return CheckResult(cand.task, "items", "contamination", status, reason, numbers)


def clean_view(policy: Contamination, candidates: list[LoadedRun]) -> list[LoadedRun]:
    """The candidates as the checks see them: under ``clean_only`` an adapter run drops its
    flagged items and its paired base run (same group) drops the same ones."""
    if policy != "clean_only":
        return candidates
    flagged: dict[tuple[str | None, str], set[str]] = {}
    for r in candidates:
        c = r.record.contamination
        if c is not None and c.status == "checked" and c.flagged:
            flagged.setdefault((r.record.group_id, r.task), set()).update(c.flagged)
    out = []
    for r in candidates:
        drop = flagged.get((r.record.group_id, r.task), set())
        out.append(_without(r, drop) if drop else r)
    return out


def _without(run: LoadedRun, drop: set[str]) -> LoadedRun:
    """``run`` without the ``drop`` items; its recorded metrics become the ``METRIC@clean``
    ones (a base run has none: numbers over every item no longer describe these)."""
    clean = {
        name.removesuffix(SUFFIX): m
        for name, m in run.record.metrics.items()
        if name.endswith(SUFFIX)
    }
    record = run.record.model_copy(update={"metrics": clean})
    return replace(run, record=record, samples=[s for s in run.samples if s.id not in drop])
