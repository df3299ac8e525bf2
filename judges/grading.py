"""Single-answer grading (1-10) by an LLM judge, with or without a reference answer.

`JudgeScorer` asks the judge once per sample (or once per rubric criterion, `RubricJudge`),
all requests of a run concurrently, and reads the verdict with `judges.parse`. Per sample it
reports ``<name>_score`` (None when no verdict could be read), ``<name>_parse_failure`` and
``<name>_error``; aggregated, the mean score and the parse-failure and error rates, plus
quadratic-weighted kappa and Spearman against ``metadata["human_score"]`` where items carry
one. The judge's identity, the template's sha256 and the call counts go to the run record's
``extra`` under ``judge:<name>``.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from harness import (
    HarnessError,
    MetricValue,
    Output,
    RunContext,
    Sample,
    Score,
    Scorer,
    mean_metric,
    scorer,
)
from judges.agreement import score_agreement
from judges.client import JudgeClient, JudgeReply, JudgeRequest, UsesJudge
from judges.config import JudgeConfig
from judges.parse import SCORE_SCHEMA, Verdict, parse_pattern, parse_score
from judges.templates import JudgeTemplate, delimit, load_template


def question_of(sample: Sample) -> str:
    """The question put to the model: ``metadata["question"]``, else the last user turn."""
    if sample.metadata.get("question"):
        return str(sample.metadata["question"])
    users = [m.content for m in sample.prompt.messages if m.role == "user"]
    return users[-1] if users else sample.prompt.text


def conversation_of(sample: Sample, output: Output) -> str:
    """What the judged answer replies to: the question, or for a multi-turn item every
    earlier turn with the model's own (delimited) answer, then the last question."""
    if not sample.followups or not output.turn_texts:
        return question_of(sample)
    users = [question_of(sample), *sample.followups]
    answers = output.turn_texts[0][:-1]
    parts = []
    for k, (q, a) in enumerate(zip(users, answers, strict=False)):
        parts.append(f"[Turn {k + 1}: user]\n{q}\n\n[Turn {k + 1}: assistant]\n{delimit(a)}")
    parts.append(f"[Turn {len(users)}: user, the turn to judge]\n{users[-1]}")
    return "\n\n".join(parts)


def reference_of(sample: Sample) -> str | None:
    """The reference answer: the target, or its first item when it is a list."""
    target = sample.target
    if isinstance(target, (list, tuple)):
        target = target[0] if target else None
    return None if target is None else str(target)


@scorer("judge", metrics=("<name>_score", "<name>_parse_failure_rate", "<name>_error_rate"))
class JudgeScorer(UsesJudge, Scorer):
    """Grades each answer 1-10 with an LLM judge (single, reference-guided or per category).

    Args:
        template: A built-in template name (`judges.TEMPLATES`: "single", "reference",
            "math", "code", "rated", "rated_reference", ...) or a file; the default.
        templates: Per-row templates: ``metadata[template_by]`` value -> template.
        template_by: The sample metadata key that picks from ``templates`` (e.g. "category").
        reference_template: For a row with a reference and no ``templates`` entry.
        max_tokens: The verdict's token budget (None: the judge's, 256).
        config: The judge (None: the run context's judge, with ``overrides`` on top).
        name: Metric prefix and scorer name.
        client: Share one client (and its local server) between scorers.
        overrides: `JudgeConfig` fields a task sets (``judge_model=...``); None values ignored.

    A template that needs ``{reference}`` is used only for rows that have one; the others
    fall back to ``template`` (reference-guided where a reference exists).
    """

    spec_exclude = ("client",)

    def __init__(
        self,
        template: str | Path | JudgeTemplate = "single",
        config: JudgeConfig | None = None,
        name: str = "judge",
        client: JudgeClient | None = None,
        overrides: dict[str, Any] | None = None,
        templates: dict[str, str] | None = None,
        template_by: str | None = None,
        reference_template: str | None = None,
        max_tokens: int | None = None,
    ) -> None:
        if templates and not template_by:
            raise HarnessError("judge: 'templates' needs 'template_by' (the metadata key)")
        if max_tokens is not None and max_tokens < 1:
            raise HarnessError(f"judge: max_tokens must be >= 1 (got {max_tokens})")
        self.template = load_template(template)
        self.templates = {str(k): load_template(v) for k, v in (templates or {}).items()}
        self.template_by = template_by
        self.reference_template = load_template(reference_template) if reference_template else None
        self.name = name
        self._use_judge(config, client, {**(overrides or {}), "max_tokens": max_tokens})
        self._calibration: dict[str, Any] | None = None
        super().__init__()

    def all_templates(self) -> list[JudgeTemplate]:
        """Every template this scorer may use (recorded with their hashes)."""
        found = [self.template, *self.templates.values()]
        found += [self.reference_template] if self.reference_template else []
        return list({t.name: t for t in found}.values())

    def bind(self, default: Any) -> None:
        """Fixes the judge: the explicit config, else ``default`` (the run context's judge)
        with this scorer's overrides on top; validated, so a missing judge fails here."""
        self.args["judge"] = _public(self._resolve_judge(default))
        self.args["template_sha256"] = self.template.sha256
        if len(self.all_templates()) > 1:
            self.args["templates_sha256"] = {t.name: t.sha256 for t in self.all_templates()}

    def preflight(self, ctx: RunContext) -> None:
        """Fails before any model call when no judge is configured."""
        self.bind(ctx.judge)

    def template_for(self, sample: Sample) -> JudgeTemplate:
        """The row's template: by ``template_by``, else reference-guided where a reference
        exists, else the default; one needing a reference the row lacks gives the default."""
        key = sample.metadata.get(self.template_by) if self.template_by else None
        chosen = self.templates.get(str(key)) if key is not None else None
        has_reference = reference_of(sample) is not None
        if chosen is None and has_reference and self.reference_template is not None:
            chosen = self.reference_template
        if chosen is None or ("reference" in chosen.fields and not has_reference):
            chosen = self.template
        return chosen

    def field_sets(self, sample: Sample, output: Output) -> list[dict[str, str]]:
        """The template fields of each judge request for one sample (one request here)."""
        fields = {"question": conversation_of(sample, output), "answer": delimit(output.text)}
        reference = reference_of(sample)
        if reference is not None:
            fields["reference"] = reference
        return [fields]

    def __call__(self, sample: Sample, output: Output) -> Score:
        return self.score_all([sample], [output], RunContext(judge=self.config))[0]

    def score_all(
        self, samples: Sequence[Sample], outputs: Sequence[Output], ctx: RunContext | None = None
    ) -> list[Score]:
        """Sends every request of the run at once (bounded by the client), then reads them."""
        self.bind(ctx.judge if ctx else None)
        plan: list[tuple[JudgeTemplate, list[JudgeRequest | None]]] = []
        for s, o in zip(samples, outputs, strict=False):
            tmpl = self.template_for(s)
            plan.append((tmpl, [_request(tmpl, f) for f in self.field_sets(s, o)]))
        sent = [r for _, reqs in plan for r in reqs if r is not None]
        if self.config is not None and self.config.calibrate and self._calibration is None:
            from judges.calibration import calibrate  # once: the same judge for every variant

            self._calibration = calibrate(self.template, self.client)
        replies = iter(self.client.complete(sent))
        return [
            self._score(tmpl, reqs, [None if r is None else next(replies) for r in reqs])
            for tmpl, reqs in plan
        ]

    def _score(
        self,
        tmpl: JudgeTemplate,
        requests: list[JudgeRequest | None],
        replies: list[JudgeReply | None],
    ) -> Score:
        verdicts = [_verdict(tmpl, r) for r in replies]
        read = [float(v.value) for v in verdicts if isinstance(v.value, (int, float))]
        answered = [
            v for v, r in zip(verdicts, replies, strict=False) if r is not None and not r.error
        ]
        errors = sum(1 for r in replies if r is not None and r.error)
        n = self.name
        values: dict[str, float | None] = {
            f"{n}_score": sum(read) / len(read) if read else None,
            f"{n}_parse_failure": (
                sum(v.value is None for v in answered) / len(answered) if answered else None
            ),
            f"{n}_error": errors / len(replies) if replies else None,
        }
        return Score(
            values=values,
            answer=values[f"{n}_score"],
            explanation=" | ".join(v.reason or v.failure or "" for v in verdicts) or None,
            metadata={
                "template": {"name": tmpl.name, "sha256": tmpl.sha256},
                "judge_prompts": [r.messages if r else None for r in requests],
                "verdicts": [
                    {"value": v.value, "method": v.method, "failure": v.failure} for v in verdicts
                ],
                "raw": [r.text if r else None for r in replies],
                "cached": [bool(r and r.cached) for r in replies],
                "tokens": [[r.tokens_in, r.tokens_out] if r else [0, 0] for r in replies],
            },
        )

    def aggregate(
        self, scores: Sequence[Score], samples: Sequence[Sample]
    ) -> dict[str, MetricValue]:
        n = self.name
        out = {
            f"{n}_score": mean_metric(
                [s.values.get(f"{n}_score") for s in scores], bounds=(1.0, 10.0)
            ),
            f"{n}_parse_failure_rate": mean_metric(
                [s.values.get(f"{n}_parse_failure") for s in scores], bounds=(0.0, 1.0)
            ),
            f"{n}_error_rate": mean_metric([s.values.get(f"{n}_error") for s in scores]),
        }
        human = [s.metadata.get("human_score") for s in samples]
        out.update(score_agreement([s.values.get(f"{n}_score") for s in scores], human, n))
        return out

    def extra(self, scores: Sequence[Score], samples: Sequence[Sample]) -> dict[str, Any]:
        """Judge identity, template hashes and counts for the run record (and, with
        ``--judge-calibration``, the judge's accuracy on the built-in pairs)."""
        out = {f"judge:{self.name}": judge_counts(scores, self.client, self.all_templates())}
        if self._calibration is not None:
            out["judge_calibration"] = self._calibration
        return out

    def problems(self, scores: Sequence[Score], samples: Sequence[Sample]) -> list[str]:
        """The run is not complete when too many verdicts could not be read."""
        counts = judge_counts(scores, self.client, self.all_templates())
        limit = self.config.max_failure_rate if self.config else 0.2
        rate = counts["parse_failure_rate"]
        if rate is None or rate <= limit:
            return []
        bad, answered = counts["parse_failures"], counts["answered"]
        message = (
            f"judge {self.name}: {bad} of {answered} verdicts unreadable ({100 * rate:.0f}% > "
            f"--max-judge-failures {limit:g}); see 'raw' in samples.jsonl, give the judge a "
            f"larger max_tokens or another format"
        )
        return [message]


def _request(tmpl: JudgeTemplate, fields: dict[str, str]) -> JudgeRequest | None:
    """The judge call for one set of fields (None when the template needs a missing one)."""
    if not tmpl.fields <= set(fields):
        return None
    schema = None if tmpl.format == "regex" else SCORE_SCHEMA
    return JudgeRequest(tmpl.messages(**fields), tmpl.sha256, schema, tmpl.format)


def _verdict(tmpl: JudgeTemplate, reply: JudgeReply | None) -> Verdict:
    if reply is None:
        return Verdict(None, failure="missing field (no reference?)", method="skipped")
    if reply.error:
        return Verdict(None, failure=f"request failed: {reply.error}", method="error")
    pattern = tmpl.verdict_pattern
    v = parse_pattern(reply.text, pattern) if pattern is not None else parse_score(reply.text)
    if v.value is None and reply.finish_reason == "length":
        v.failure = f"reply cut at max_tokens ({v.failure})"
    return v


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
    return {
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


@scorer("judge_rubric", metrics=("<name>_score", "<name>_parse_failure_rate", "<name>_error_rate"))
class RubricJudge(JudgeScorer):
    """Grades an answer against each criterion of a per-item checklist; the score is their mean.

    Each sample's ``metadata["checklist"]`` is a list of criteria, each a string or a dict
    (WritingBench style: ``name``, ``criteria_description`` and score-band descriptions).
    """

    def __init__(
        self,
        template: str | Path | JudgeTemplate = "rubric",
        config: JudgeConfig | None = None,
        name: str = "rubric",
        client: JudgeClient | None = None,
        overrides: dict[str, Any] | None = None,
        max_tokens: int | None = None,
    ) -> None:
        super().__init__(template, config, name, client, overrides, max_tokens=max_tokens)

    def field_sets(self, sample: Sample, output: Output) -> list[dict[str, str]]:
        answer = delimit(output.text)
        return [
            {"question": question_of(sample), "answer": answer, "criterion": criterion_text(c)}
            for c in sample.metadata.get("checklist", [])
        ]


def criterion_text(criterion: Any) -> str:
    """A checklist criterion as text (a dict's name, description and score bands)."""
    if not isinstance(criterion, dict):
        return str(criterion)
    lines = [str(criterion.get("name", "")), str(criterion.get("criteria_description", ""))]
    lines += [f"{k}: {v}" for k, v in criterion.items() if k[:1].isdigit()]
    return "\n".join(x for x in lines if x)


def _public(config: JudgeConfig) -> dict[str, Any]:
    """The configuration as recorded: names and settings, never the key itself."""
    return {
        "model": config.model,
        "base_url": config.base_url,
        "api_key_env": config.api_key_env,
        "local": config.local,
        "response_format": config.structured,
        "max_tokens": config.max_tokens,
        "temperature": 0.0,
    }
