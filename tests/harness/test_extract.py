"""Answer extraction: the table of number formats the GSM8K scorers must handle."""

from __future__ import annotations

import pytest

from harness import Output, Sample
from harness._types import Prompt
from harness.extract import RegexMatch, normalize_number
from tasks.gsm8k import FLEXIBLE, STRICT

P = Prompt.plain("q")


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("$29.00", "29"),
        ("1,234", "1234"),
        ("-7", "-7"),
        ("3.5", "3.5"),
        ("18.", "18"),
        ("$1,000,000", "1000000"),
        ("0.25", "0.25"),
        ("abc", "abc"),
    ],
)
def test_normalize_number(raw: str, expected: str) -> None:
    assert normalize_number(raw) == expected


@pytest.mark.parametrize(
    ("output", "target", "strict", "flexible"),
    [
        ("She pays 10 + 19 = $29.00\n#### $29.00", "29", "29", "29"),
        ("Total 1,234 apples\n#### 1,234", "1234", "1234", "1234"),
        ("The change is -5 degrees.\n#### -5", "-5", "-5", "-5"),
        ("It costs 2.5 dollars each so 7.5 total.", "7.5", None, "7.5"),
        ("I do not know.", "3", None, None),
        ("First 3, then 4, finally 12 eggs.", "12", None, "12"),
        ("#### 5\nbut actually 6", "6", "5", "6"),
    ],
)
def test_gsm8k_extractions(
    output: str, target: str, strict: str | None, flexible: str | None
) -> None:
    sample = Sample(id="x", prompt=P, target=target)
    s = RegexMatch("strict", STRICT, "first")(sample, Output(texts=[output]))
    f = RegexMatch("flexible", FLEXIBLE, "last")(sample, Output(texts=[output]))
    assert s.answer == strict
    assert f.answer == flexible
    assert s.values["strict_match"] == float(strict == target)
    assert f.values["flexible_match"] == float(flexible == target)
    assert s.values["strict_no_match"] == float(strict is None)
    assert f.values["flexible_no_match"] == float(flexible is None)
