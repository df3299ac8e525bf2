"""Reading one sample's judge replies into a `Score`, and a run's judge counts.

`score_sample` turns each judged unit's draws into verdicts (`judges.parse`), an optional
expected grade (`judges.draws.expected_grade`), and one combined value per unit; the sample's
``<name>_score`` is the mean over its units (turns or rubric criteria). Every reply stays in
the score's metadata (prompts, raw text, cache hits, tokens), so nothing is scored unseen.
`judge_counts` sums a run's calls, cache hits, tokens, parse failures and expected-score
fallbacks for the run record.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any

from harness import Score
from judges.client import JudgeClient, JudgeReply, JudgeRequest
from judges.draws import combine, expected_grade, spread
from judges.parse import Verdict, parse_pattern, parse_score
from judges.templates import JudgeTemplate


def verdict_of(tmpl: JudgeTemplate, reply: JudgeReply | None) -> Verdict:
    """The verdict read from one reply (a failure, with its reason, when none can be)."""
    if reply is None:
        return Verdict(None, failure="missing field (no reference?)", method="skipped")
    if reply.error:
        return Verdict(None, failure=f"request failed: {reply.error}", method="error")
    pattern = tmpl.verdict_pattern
    v = parse_pattern(reply.text, pattern) if pattern is not None else parse_score(reply.text)
    if v.value is None and reply.finish_reason == "length":
        v.failure = f"reply cut at max_tokens ({v.failure})"
    return v


def _draw_value(
    tmpl: JudgeTemplate, reply: JudgeReply | None, v: Verdict, by: str
) -> tuple[float | None, str | None]:
    """One draw's grade: the verdict, or its expected grade (with why not, when not)."""
    value = float(v.value) if isinstance(v.value, (int, float)) else None
    if by != "expected" or value is None or reply is None:
        return value, None
    expected, why = expected_grade(reply.text, reply.logprobs, tmpl.verdict_pattern)
    return (value, why) if expected is None else (expected, None)


def score_sample(
    name: str,
    units: Sequence[tuple[JudgeTemplate, int | None]],
    requests: Sequence[Sequence[JudgeRequest | None]],
    replies: Sequence[Sequence[JudgeReply | None]],
    how: str = "median",
    by: str = "verdict",
    k: int = 1,
) -> Score:
    """One sample's score from its judged units (template, turn) and their draws' replies."""
    unit_values, spreads, draws, fallbacks, verdicts = [], [], [], [], []
    values: dict[str, float | None] = {}
    for (tmpl, turn), reps in zip(units, replies, strict=True):
        vs = [verdict_of(tmpl, r) for r in reps]
        read = [_draw_value(tmpl, r, v, by) for r, v in zip(reps, vs, strict=True)]
        fallbacks += [why for val, why in read if why is not None]
        combined = combine([val for val, _ in read], how)
        unit_values.append(combined)
        spreads.append(spread([val for val, _ in read]))
        draws.append([val for val, _ in read])
        verdicts += vs
        if turn is not None:
            values[f"{name}_score_turn{turn}"] = combined
    flat = [r for reps in replies for r in reps]
    answered = [v for v, r in zip(verdicts, flat, strict=True) if r is not None and not r.error]
    read_units = [u for u in unit_values if u is not None]
    values[f"{name}_score"] = sum(read_units) / len(read_units) if read_units else None
    values[f"{name}_parse_failure"] = (
        sum(v.value is None for v in answered) / len(answered) if answered else None
    )
    values[f"{name}_error"] = (
        sum(1 for r in flat if r is not None and r.error) / len(flat) if flat else None
    )
    if k > 1:
        known = [s for s in spreads if s is not None]
        values[f"{name}_spread"] = sum(known) / len(known) if known else None
    metadata: dict[str, Any] = {
        "template": {"name": units[0][0].name, "sha256": units[0][0].sha256} if units else None,
        "judge_prompts": [r.messages if r else None for reqs in requests for r in reqs],
        "verdicts": [
            {"value": v.value, "method": v.method, "failure": v.failure} for v in verdicts
        ],
        "raw": [r.text if r else None for r in flat],
        "cached": [bool(r and r.cached) for r in flat],
        "tokens": [[r.tokens_in, r.tokens_out] if r else [0, 0] for r in flat],
    }
    if any(turn is not None for _, turn in units):
        metadata["units"] = [{"template": t.name, "turn": turn} for t, turn in units]
    if k > 1:
        metadata.update(draws=draws, spread=spreads, aggregate=how)
    if by == "expected":
        metadata["expected_fallbacks"] = fallbacks
    return Score(
        values=values,
        answer=values[f"{name}_score"],
        explanation=" | ".join(v.reason or v.failure or "" for v in verdicts) or None,
        metadata=metadata,
    )


def judge_counts(
    scores: Sequence[Score], client: JudgeClient, templates: Sequence[JudgeTemplate]
) -> dict[str, Any]:
    """Judge calls, tokens, cache hits and parse failures of one variant (run.json)."""
    verdicts = [v for s in scores for v in s.metadata.get("verdicts", [])]
    cached = [c for s in scores for c in s.metadata.get("cached", [])]
    tokens = [t for s in scores for t in s.metadata.get("tokens", [])]
    failures = Counter(v["failure"].split(":")[0] for v in verdicts if v["failure"])
    answered = [v for v in verdicts if v["method"] not in ("error", "skipped")]
    unreadable = sum(v["value"] is None for v in answered)
    out = {
        "judge": client.identity(),
        "templates": {t.name: t.sha256 for t in templates},
        "verdict_formats": {t.name: t.format or client.config.structured for t in templates},
        "requests": len(verdicts),
        "cache_hits": sum(cached),
        "calls": sum(1 for v in verdicts if v["method"] != "skipped") - sum(cached),
        "tokens_in": sum(t[0] for t in tokens),
        "tokens_out": sum(t[1] for t in tokens),
        "parsed": sum(v["value"] is not None for v in verdicts),
        "answered": len(answered),
        "parse_failures": unreadable,
        "parse_failure_rate": unreadable / len(answered) if answered else None,
        "parsed_by": dict(Counter(v["method"] for v in verdicts)),
        "failures": dict(failures),
    }
    if any(t.temperature for t in templates):  # the identity's temperature 0 would be wrong
        out["judge"] = {k: v for k, v in out["judge"].items() if k != "temperature"}
        out["temperatures"] = {t.name: t.temperature for t in templates}
    if any("expected_fallbacks" in s.metadata for s in scores):
        reasons = Counter(r for s in scores for r in s.metadata.get("expected_fallbacks", []))
        read = sum(v["value"] is not None for v in answered)
        out["expected"] = {"computed": read - sum(reasons.values()), "fell_back": dict(reasons)}
    return out
