"""Single-answer grading (1-10) by an LLM judge, with or without a reference answer.

`JudgeScorer` asks the judge per sample (per turn with ``multi_turn_template``, MT-bench's
way; per rubric criterion in `judges.rubric.RubricJudge`), all requests of a run concurrently,
and reads the verdicts with `judges.parse`. With ``samples: k`` each judged turn gets k
verdicts, combined by ``aggregate`` (`judges.draws`); ``score: expected`` reads the grade from
the judge's log-probabilities. Per sample it reports ``<name>_score`` (the mean over judged
turns; None when no verdict could be read), ``<name>_score_turn<N>`` when each turn is graded,
``<name>_parse_failure``, ``<name>_error`` and, with k > 1, ``<name>_spread``; aggregated, their
means, plus quadratic-weighted kappa and Spearman against ``metadata["human_score"]`` where
items carry one. The judge's identity, the template hashes and the call counts go to the run
record's ``extra`` under ``judge:<name>`` (`judges.verdicts.judge_counts`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
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
from judges.client import JudgeClient, JudgeRequest, UsesJudge
from judges.config import JudgeConfig
from judges.draws import AGGREGATES, SCORES, TOP_LOGPROBS
from judges.parse import SCORE_SCHEMA
from judges.templates import PLACEHOLDERS, JudgeTemplate, delimit, load_template
from judges.turns import (
    answers_of,
    question_of,
    reference_of,
    turn_fields,
    turn_references,
    user_turns,
)
from judges.verdicts import judge_counts, score_sample

__all__ = ["JudgeScorer", "Slot", "conversation_of", "question_of", "reference_of"]


def conversation_of(sample: Sample, output: Output, wrap: Any = delimit) -> str:
    """What the judged answer replies to: the question, or for a multi-turn item every
    earlier turn with the model's own (delimited) answer, then the last question."""
    if not sample.followups or not output.turn_texts:
        return question_of(sample)
    users = user_turns(sample)
    answers = output.turn_texts[0][:-1]
    parts = []
    for k, (q, a) in enumerate(zip(users, answers, strict=False)):
        parts.append(f"[Turn {k + 1}: user]\n{q}\n\n[Turn {k + 1}: assistant]\n{wrap(a)}")
    parts.append(f"[Turn {len(users)}: user, the turn to judge]\n{users[-1]}")
    return "\n\n".join(parts)


@dataclass
class Slot:
    """One judged unit of a sample: a template and its fields (``turn``: graded per turn)."""

    template: JudgeTemplate
    fields: dict[str, str]
    turn: int | None = None


@scorer(
    "judge",
    metrics=(
        "<name>_score",
        "<name>_score_turn<N>",
        "<name>_parse_failure_rate",
        "<name>_error_rate",
        "<name>_spread",
    ),
)
class JudgeScorer(UsesJudge, Scorer):
    """Grades each answer 1-10 with an LLM judge (single, reference-guided, per turn).

    Args:
        template: A built-in template name (`judges.TEMPLATES`: "single", "reference",
            "math", "code", "rated", "rated_reference", ...) or a file; the default.
        templates: Per-row templates: ``metadata[template_by]`` value -> template.
        template_by: The sample metadata key that picks from ``templates`` (e.g. "category").
        reference_template: For a row with a reference and no ``templates`` entry.
        multi_turn_template: Grade every turn: the first with the templates above, each later
            one with this (FastChat's ``{question_1}`` ... ``{answer_2}``).
        multi_turn_reference_template: For later turns of a row with a reference per turn.
        turn_references: Where each turn's reference is: "target" (the target's items, one
            per turn) or a sample metadata key holding a list (MT-bench's ``reference``);
            default: the target, for the first turn only.
        samples: Verdicts per judged turn (k draws at the template's temperature).
        aggregate: How the k draws combine: "median" or "mean".
        score: "verdict" (the grade read from the reply) or "expected" (Σ p × grade from the
            top log-probabilities, falling back to the verdict with a counted reason).
        max_tokens: The verdict's token budget (None: the template's, else the judge's, 256).
        config: The judge (None: the run context's judge, with ``overrides`` on top).
        name: Metric prefix and scorer name.
        client: Share one client (and its local server) between scorers.
        overrides: `JudgeConfig` fields a task sets (``judge_model=...``); None values ignored.

    A template needing a field a row lacks (a reference) is not used for that row; it falls
    back to ``template`` (or ``multi_turn_template`` for later turns).
    """

    placeholders = PLACEHOLDERS["judge"]
    spec_exclude = ("client",)
    path_args: tuple[str, ...] = (
        "template",
        "templates",
        "reference_template",
        "multi_turn_template",
        "multi_turn_reference_template",
    )

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
        multi_turn_template: str | None = None,
        multi_turn_reference_template: str | None = None,
        turn_references: str | None = None,
        samples: int = 1,
        aggregate: str = "median",
        score: str = "verdict",
    ) -> None:
        _check_args(templates, template_by, max_tokens, samples, aggregate, score)
        self.template = load_template(template)
        self.templates = {str(k): load_template(v) for k, v in (templates or {}).items()}
        self.template_by = template_by
        self.reference_template = load_template(reference_template) if reference_template else None
        self.multi_turn_template = _maybe(multi_turn_template)
        self.multi_turn_reference_template = _maybe(multi_turn_reference_template)
        self.turn_references = turn_references
        self.samples, self.how, self.score_by = samples, aggregate, score
        self.max_tokens = max_tokens
        self.name = name
        self._use_judge(config, client, {**(overrides or {}), "max_tokens": max_tokens})
        self._calibration: dict[str, Any] | None = None
        super().__init__()

    def all_templates(self) -> list[JudgeTemplate]:
        """Every template this scorer may use (recorded with their hashes)."""
        found = [self.template, *self.templates.values()]
        for t in (
            self.reference_template,
            self.multi_turn_template,
            self.multi_turn_reference_template,
        ):
            found += [t] if t else []
        return list({t.name: t for t in found}.values())

    def bind(self, default: Any) -> None:
        """Fixes the judge: the explicit config, else ``default`` (the run context's judge)
        with this scorer's overrides on top; validated, so a missing judge fails here."""
        self.args["judge"] = _public(self._resolve_judge(default))
        if any(t.temperature for t in self.all_templates()):  # sampled at each template's
            self.args["judge"].pop("temperature")
        self.args["template_sha256"] = self.template.sha256
        if len(self.all_templates()) > 1:
            self.args["templates_sha256"] = {t.name: t.sha256 for t in self.all_templates()}

    def preflight(self, ctx: RunContext) -> None:
        """Fails before any model call when no judge is configured."""
        self.bind(ctx.judge)

    def template_for(self, sample: Sample, fields: dict[str, str] | None = None) -> JudgeTemplate:
        """The row's first-turn template: by ``template_by``, else reference-guided where a
        reference exists, else the default; one needing a field the row lacks gives the
        default."""
        key = sample.metadata.get(self.template_by) if self.template_by else None
        chosen = self.templates.get(str(key)) if key is not None else None
        has_reference = (
            reference_of(sample) is not None if fields is None else "reference" in fields
        )
        if chosen is None and has_reference and self.reference_template is not None:
            chosen = self.reference_template
        if chosen is None or ("reference" in chosen.fields and not has_reference):
            chosen = self.template
        if fields is not None and not chosen.fields <= set(fields):
            chosen = self.template
        return chosen

    def _later_template(self, fields: dict[str, str]) -> JudgeTemplate:
        base, ref = self.multi_turn_template, self.multi_turn_reference_template
        assert base is not None
        return ref if ref is not None and ref.fields <= set(fields) else base

    def slots(self, sample: Sample, output: Output) -> list[Slot]:
        """What is judged for one sample: the last turn, or (``multi_turn_template``) each."""
        questions, answers = user_turns(sample), answers_of(output)
        refs = turn_references(sample, self.turn_references)
        if self.multi_turn_template is None:  # the last turn, the whole conversation in view
            turn = len(questions)
            answers = [*(answers[:-1] if len(answers) == turn else [""] * (turn - 1)), output.text]
            tmpl = self.template_for(sample, self._last(questions, answers, refs, sample, str))
            fields = self._last(questions, answers, refs, sample, tmpl.wrap)
            if turn > 1 and not tmpl.multi_turn:
                fields["question"] = conversation_of(sample, output, tmpl.wrap)
            return [Slot(tmpl, fields)]
        out = []
        for turn in range(1, len(questions) + 1):
            probe = turn_fields(questions, answers, refs, turn, str)
            tmpl = self.template_for(sample, probe) if turn == 1 else self._later_template(probe)
            out.append(Slot(tmpl, turn_fields(questions, answers, refs, turn, tmpl.wrap), turn))
        return out

    def _last(
        self,
        questions: list[str],
        answers: list[str],
        refs: list[str | None],
        sample: Sample,
        wrap: Any,
    ) -> dict[str, str]:
        fields = turn_fields(questions, answers, refs, len(questions), wrap)
        reference = reference_of(sample)
        if self.turn_references is None and reference is not None:
            fields["reference"] = reference  # the target is the judged turn's reference
        return fields

    def field_sets(self, sample: Sample, output: Output) -> list[dict[str, str]]:
        """The template fields of each judged unit of one sample."""
        return [s.fields for s in self.slots(sample, output)]

    def requests(self, slot: Slot) -> list[JudgeRequest | None]:
        """The ``samples`` draws for one slot (one None when a field is missing)."""
        tmpl = slot.template
        if not tmpl.fields <= set(slot.fields):
            return [None]
        schema = None if tmpl.format == "regex" else SCORE_SCHEMA
        messages = tmpl.messages(**slot.fields)
        top = TOP_LOGPROBS if self.score_by == "expected" else None
        tokens = self.max_tokens or tmpl.max_tokens
        return [
            JudgeRequest(
                messages, tmpl.sha256, schema, tmpl.format, tmpl.temperature, i, tokens, top
            )
            for i in range(self.samples)
        ]

    def __call__(self, sample: Sample, output: Output) -> Score:
        return self.score_all([sample], [output], RunContext(judge=self.config))[0]

    def score_all(
        self, samples: Sequence[Sample], outputs: Sequence[Output], ctx: RunContext | None = None
    ) -> list[Score]:
        """Sends every request of the run at once (bounded by the client), then reads them."""
        self.bind(ctx.judge if ctx else None)
        plan = []
        for s, o in zip(samples, outputs, strict=False):
            slots = self.slots(s, o)
            plan.append((slots, [self.requests(slot) for slot in slots]))
        sent = [r for _, per in plan for reqs in per for r in reqs if r is not None]
        if self.config is not None and self.config.calibrate and self._calibration is None:
            from judges.calibration import calibrate  # once: the same judge for every variant

            self._calibration = calibrate(self.template, self.client)
        replies = iter(self.client.complete(sent))
        return [
            score_sample(
                self.name,
                [(slot.template, slot.turn) for slot in slots],
                per,
                [[None if r is None else next(replies) for r in reqs] for reqs in per],
                self.how,
                self.score_by,
                self.samples,
            )
            for slots, per in plan
        ]

    def aggregate(
        self, scores: Sequence[Score], samples: Sequence[Sample]
    ) -> dict[str, MetricValue]:
        n = self.name
        keys = sorted({k for s in scores for k in s.values if k.startswith(f"{n}_score_turn")})
        out = {
            k: mean_metric([s.values.get(k) for s in scores], bounds=(1.0, 10.0))
            for k in [f"{n}_score", *keys]
        }
        out[f"{n}_parse_failure_rate"] = mean_metric(
            [s.values.get(f"{n}_parse_failure") for s in scores], bounds=(0.0, 1.0)
        )
        out[f"{n}_error_rate"] = mean_metric([s.values.get(f"{n}_error") for s in scores])
        if self.samples > 1:
            out[f"{n}_spread"] = mean_metric(
                [s.values.get(f"{n}_spread") for s in scores], bounds=(0.0, 9.0)
            )
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


def _maybe(source: str | None) -> JudgeTemplate | None:
    return load_template(source) if source else None


def _check_args(
    templates: Any, template_by: Any, max_tokens: Any, samples: Any, aggregate: Any, score: Any
) -> None:
    if templates and not template_by:
        raise HarnessError("judge: 'templates' needs 'template_by' (the metadata key)")
    if max_tokens is not None and max_tokens < 1:
        raise HarnessError(f"judge: max_tokens must be >= 1 (got {max_tokens})")
    if isinstance(samples, bool) or not isinstance(samples, int) or samples < 1:
        raise HarnessError(f"judge: samples must be an integer >= 1 (got {samples!r})")
    if aggregate not in AGGREGATES:
        raise HarnessError(f"judge: aggregate must be one of {', '.join(AGGREGATES)}")
    if score not in SCORES:
        raise HarnessError(f"judge: score must be one of {', '.join(SCORES)} (got {score!r})")


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
