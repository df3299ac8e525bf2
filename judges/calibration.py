"""Judge calibration: does the run's judge grade a known-good answer above a known-bad one?

``--judge-calibration`` sends the built-in `PAIRS` (a question, a correct and helpful answer, a
wrong or useless one, and a reference) through the run's judge and template beside the judged
run, and records the share of pairs whose good answer got the higher grade in run.json
(``extra["judge_calibration"]``) and the summary line. A tie or an unreadable verdict counts as
a miss: a judge that cannot tell these apart cannot be trusted on subtler differences either.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from judges.client import JudgeClient, JudgeRequest
from judges.parse import SCORE_SCHEMA, parse_pattern, parse_score
from judges.templates import BUILTIN, JudgeTemplate, delimit


@dataclass(frozen=True)
class CalibrationPair:
    """A question with a known-good and a known-bad answer."""

    id: str
    question: str
    good: str
    bad: str
    reference: str


PAIRS: tuple[CalibrationPair, ...] = (
    CalibrationPair(
        "arithmetic",
        "A shop sells pens at 3 dollars each. How much do 7 pens cost?",
        "Each pen costs 3 dollars, so 7 pens cost 7 x 3 = 21 dollars.",
        "7 pens cost 10 dollars, because 7 + 3 = 10.",
        "21 dollars",
    ),
    CalibrationPair(
        "capital",
        "What is the capital of Japan?",
        "The capital of Japan is Tokyo.",
        "The capital of Japan is Beijing.",
        "Tokyo",
    ),
    CalibrationPair(
        "boiling",
        "At what temperature does water boil at sea level, in degrees Celsius?",
        "At sea level water boils at 100 degrees Celsius.",
        "Water boils at 50 degrees Celsius at sea level.",
        "100 degrees Celsius",
    ),
    CalibrationPair(
        "code",
        "Write a Python function that returns the larger of two numbers.",
        "def larger(a, b):\n    return a if a > b else b",
        "def larger(a, b):\n    return a - b",
        "def larger(a, b):\n    return max(a, b)",
    ),
    CalibrationPair(
        "advice",
        "Give one practical tip for falling asleep more easily.",
        "Keep a regular bedtime and put screens away half an hour before it; the steady "
        "rhythm and less bright light both help you fall asleep sooner.",
        "Drink two cups of strong coffee right before bed.",
        "A regular sleep schedule, a dark quiet room, no caffeine or screens before bed.",
    ),
    CalibrationPair(
        "summary",
        "Summarise in one sentence: 'The council voted to close the old bridge for repairs "
        "next month; traffic will use the ring road until the work ends in spring.'",
        "The old bridge closes for repairs next month and traffic takes the ring road "
        "until spring.",
        "The council built a new ring road last spring.",
        "The bridge closes next month for repairs; traffic diverts to the ring road until spring.",
    ),
)


def calibration_template(template: JudgeTemplate) -> JudgeTemplate:
    """The run's template when the pairs can fill it (question, answer, reference), else the
    built-in ``single`` one (a rubric template needs criteria the pairs do not have)."""
    return template if template.fields <= {"question", "answer", "reference"} else BUILTIN["single"]


def calibrate(template: JudgeTemplate, client: JudgeClient) -> dict[str, Any]:
    """Grades every pair's two answers with ``client`` and returns the record's block."""
    tmpl = calibration_template(template)
    schema = None if tmpl.format == "regex" else SCORE_SCHEMA
    requests = [
        JudgeRequest(
            tmpl.messages(question=p.question, answer=delimit(answer), reference=p.reference),
            tmpl.sha256,
            schema,
            tmpl.format,
        )
        for p in PAIRS
        for answer in (p.good, p.bad)
    ]
    replies = client.complete(requests)
    grades = [_grade(tmpl, r.text) if not r.error else None for r in replies]
    pairs = [(grades[2 * k], grades[2 * k + 1]) for k in range(len(PAIRS))]
    right = [g is not None and b is not None and g > b for g, b in pairs]
    rows = [
        {"id": p.id, "good": g, "bad": b, "correct": ok}
        for p, (g, b), ok in zip(PAIRS, pairs, right, strict=True)
    ]
    return {
        "accuracy": sum(right) / len(rows),
        "correct": sum(right),
        "n": len(rows),
        "ties": sum(g is not None and g == b for g, b in pairs),
        "unreadable": sum(g is None or b is None for g, b in pairs),
        "template": {"name": tmpl.name, "sha256": tmpl.sha256},
        "judge": client.identity().get("model"),
        "calls": sum(not r.cached for r in replies),
        "cache_hits": sum(r.cached for r in replies),
        "tokens_in": sum(r.tokens_in for r in replies),
        "tokens_out": sum(r.tokens_out for r in replies),
        "pairs": rows,
    }


def _grade(tmpl: JudgeTemplate, text: str) -> float | None:
    pattern = tmpl.verdict_pattern
    verdict = parse_pattern(text, pattern) if pattern is not None else parse_score(text)
    return float(verdict.value) if isinstance(verdict.value, (int, float)) else None
