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

from harness import MetricValue, Output, RunContext, Sample, Score, Scorer, mean_metric, scorer
from judges.agreement import score_agreement
from judges.client import JudgeClient, JudgeReply, JudgeRequest, UsesJudge
from judges.config import JudgeConfig
from judges.parse import SCORE_SCHEMA, Verdict, parse_score
from judges.templates import JudgeTemplate, delimit, load_template


def question_of(sample: Sample) -> str:
    """The question put to the model: ``metadata["question"]``, else the last user turn."""
    if sample.metadata.get("question"):
        return str(sample.metadata["question"])
    users = [m.content for m in sample.prompt.messages if m.role == "user"]
    return users[-1] if users else sample.prompt.text


def reference_of(sample: Sample) -> str | None:
    """The reference answer: the target, or its first item when it is a list."""
    target = sample.target
    if isinstance(target, (list, tuple)):
        target = target[0] if target else None
    return None if target is None else str(target)


@scorer("judge", metrics=("<name>_score", "<name>_parse_failure_rate", "<name>_error_rate"))
class JudgeScorer(UsesJudge, Scorer):
    """Grades each answer 1-10 with an LLM judge.

    Args:
        template: A built-in template name ("single", "reference", "math", "code") or a file.
        config: The judge (None: the run context's judge, with ``overrides`` on top).
        name: Metric prefix and scorer name.
        client: Share one client (and its local server) between scorers.
        overrides: `JudgeConfig` fields a task sets (``judge_model=...``); None values ignored.
    """

    spec_exclude = ("client",)

    def __init__(
        self,
        template: str | Path | JudgeTemplate = "single",
        config: JudgeConfig | None = None,
        name: str = "judge",
        client: JudgeClient | None = None,
        overrides: dict[str, Any] | None = None,
    ) -> None:
        self.template = load_template(template)
        self.name = name
        self._use_judge(config, client, overrides)
        super().__init__()

    def bind(self, default: Any) -> None:
        """Fixes the judge: the explicit config, else ``default`` (the run context's judge)
        with this scorer's overrides on top; validated, so a missing judge fails here."""
        self.args["judge"] = _public(self._resolve_judge(default))
        self.args["template_sha256"] = self.template.sha256

    def preflight(self, ctx: RunContext) -> None:
        """Fails before any model call when no judge is configured."""
        self.bind(ctx.judge)

    def field_sets(self, sample: Sample, output: Output) -> list[dict[str, str]]:
        """The template fields of each judge request for one sample (one request here)."""
        fields = {"question": question_of(sample), "answer": delimit(output.text)}
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
        plan: list[list[dict[str, str] | None]] = []
        requests: list[JudgeRequest] = []
        for s, o in zip(samples, outputs, strict=False):
            sets = self.field_sets(s, o)
            plan.append([f if self.template.fields <= set(f) else None for f in sets])
            requests += [
                JudgeRequest(self.template.messages(**f), self.template.sha256, SCORE_SCHEMA)
                for f in sets
                if self.template.fields <= set(f)
            ]
        replies = iter(self.client.complete(requests))
        return [self._score([None if f is None else next(replies) for f in fs]) for fs in plan]

    def _score(self, replies: list[JudgeReply | None]) -> Score:
        verdicts: list[Verdict] = []
        for r in replies:
            if r is None:
                verdicts.append(
                    Verdict(None, failure="missing field (no reference?)", method="skipped")
                )
            elif r.error:
                verdicts.append(Verdict(None, failure=f"request failed: {r.error}", method="error"))
            else:
                v = parse_score(r.text)
                if v.value is None and r.finish_reason == "length":
                    v.failure = f"reply cut at max_tokens ({v.failure})"
                verdicts.append(v)
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
                "verdicts": [
                    {"value": v.value, "method": v.method, "failure": v.failure} for v in verdicts
                ],
                "raw": [r.text if r else None for r in replies],
                "cached": [bool(r and r.cached) for r in replies],
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
        """Judge identity, template hash and counts for the run record."""
        verdicts = [v for s in scores for v in s.metadata.get("verdicts", [])]
        cached = [c for s in scores for c in s.metadata.get("cached", [])]
        failures = Counter(v["failure"].split(":")[0] for v in verdicts if v["failure"])
        return {
            f"judge:{self.name}": {
                "judge": self.client.identity(),
                "templates": {self.template.name: self.template.sha256},
                "requests": len(verdicts),
                "cache_hits": sum(cached),
                "parsed": sum(v["value"] is not None for v in verdicts),
                "parsed_by": dict(Counter(v["method"] for v in verdicts)),
                "failures": dict(failures),
            }
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
    ) -> None:
        super().__init__(template, config, name, client, overrides)

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
