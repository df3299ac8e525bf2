"""The gate's outputs for CI: JUnit XML (always written, even on exit 2) and a Markdown summary.

A failing check is a JUnit failure; one let through by ``on_inconclusive: pass`` is skipped with
its reason; a gate that could not run (exit 2) is one errored testcase carrying the message, so
a CI upload step always finds a file that says why.
"""

from __future__ import annotations

from typing import Any, Protocol
from xml.etree import ElementTree as ET

from harness.gate._checks import CheckResult


class GateResult(Protocol):
    """What the writers read of `harness.gate.GateResult`."""

    policy: Any
    results: list[CheckResult]

    @property
    def failed(self) -> list[CheckResult]: ...

    @property
    def skipped(self) -> list[CheckResult]: ...


def to_junit(result: GateResult) -> str:
    """JUnit XML with one testcase per check: a failing check (inconclusive ones too under
    ``on_inconclusive: fail``) is a failure, one let through by ``on_inconclusive: pass`` is
    skipped with its reason."""
    failed = {id(r) for r in result.failed}
    skipped = {id(r) for r in result.skipped}
    suite = _suite(len(result.results), failures=len(failed), skipped=len(skipped))
    for r in result.results:
        case = ET.SubElement(suite, "testcase", classname=f"gate.{r.task}", name=r.name, time="0")
        if id(r) in failed:
            fail = ET.SubElement(case, "failure", message=f"{r.status}: {r.reason}", type=r.status)
            fail.text = "\n".join(f"{k} = {v}" for k, v in r.numbers.items())
        elif id(r) in skipped:
            ET.SubElement(
                case, "skipped", message=f"{r.status} (on_inconclusive: pass): {r.reason}"
            )
        out = ET.SubElement(case, "system-out")
        out.text = f"{r.status}: {r.reason}"
    return _xml(suite)


def junit_error(message: str) -> str:
    """JUnit XML for a gate that could not run (exit 2): one errored testcase with the message,
    so a CI upload step always finds a file and shows why."""
    suite = _suite(1, errors=1)
    case = ET.SubElement(suite, "testcase", classname="gate", name="gate policy", time="0")
    err = ET.SubElement(case, "error", message=message, type="usage-or-data-error")
    err.text = message
    return _xml(suite)


def _suite(tests: int, failures: int = 0, errors: int = 0, skipped: int = 0) -> ET.Element:
    return ET.Element(
        "testsuite",
        name="harness-gate",
        tests=str(tests),
        failures=str(failures),
        errors=str(errors),
        skipped=str(skipped),
    )


def _xml(suite: ET.Element) -> str:
    root = ET.Element(
        "testsuites",
        name="harness-gate",
        tests=suite.get("tests", "0"),
        failures=suite.get("failures", "0"),
        errors=suite.get("errors", "0"),
        skipped=suite.get("skipped", "0"),
    )
    root.append(suite)
    ET.indent(root)
    return ET.tostring(root, encoding="unicode", xml_declaration=True) + "\n"


_ICON = {
    "pass": "✅ pass",
    "fail": "❌ fail",
    "inconclusive": "⚠️ inconclusive",
    "underpowered": "⚠️ underpowered",
}


def to_markdown(result: GateResult) -> str:
    """A Markdown summary: verdict, then one table row per check."""
    verdict = "FAILED" if result.failed else "PASSED"
    lines = [
        f"## harness gate: {verdict}",
        "",
        (
            f"{len(result.results)} checks, {len(result.failed)} failing "
            f"(inconclusive counts as {result.policy.on_inconclusive})."
        ),
        "",
        "| task | check | status | evidence |",
        "| --- | --- | --- | --- |",
    ]
    for r in result.results:
        reason = r.reason.replace("|", "\\|")
        lines.append(f"| {r.task} | {r.name} | {_ICON[r.status]} | {reason} |")
    return "\n".join(lines) + "\n"
