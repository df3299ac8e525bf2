"""Counterfactual probes: does the answer change when only "he" becomes "she"?

``harness run --counterfactual SET`` swaps the terms of a swap list (the shipped ``gender``
list, or a user YAML file) in every item's prompt, and evaluates each item beside its swapped
variant(s), one variant per group of the list whose terms occur in the prompt. A swap list::

    name: names
    groups:
      names:          # one variant per item per group
        - [John, Maria]   # swapped both ways, whole words, case kept (JOHN -> MARIA)

The task's metrics are aggregated over the original items only, so ``accuracy`` means what it
means in any other run. The first scorer also reports, over the (original, variant) pairs:

* ``counterfactual_change_rate``: the share of variants whose answer differs from their
  original's (the scorer's extracted answer when it extracts one, else the whitespace-normalised
  first output); gateable with ``max``;
* ``counterfactual_score_gap``: variant minus original on the scorer's first metric, with a
  paired test (McNemar exact for 0/1 values, paired bootstrap otherwise);

and the record's ``extra["counterfactual"]`` holds both per group. Per sample, each variant's
``counterfactual_change_rate`` value (1 changed, 0 not: the metric is their mean) and
``metadata["counterfactual"]`` (its pair and group) are in ``samples.jsonl``.
"""

from __future__ import annotations

import dataclasses
import math
import re
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError

from harness._aggregate import mean_metric
from harness._data import Dataset
from harness._errors import HarnessError
from harness._scorer import Scorer
from harness._types import Message, MetricValue, Output, Prompt, Sample, Score
from harness.stats import compare

if TYPE_CHECKING:
    from harness._context import RunContext
    from harness._task import Task

SHIPPED = Path(__file__).parent / "data" / "counterfactual"
CHANGE_RATE = "counterfactual_change_rate"
SCORE_GAP = "counterfactual_score_gap"
KEY = "counterfactual"


class SwapList(BaseModel):
    """A counterfactual swap list: groups of term pairs, each pair swapped both ways."""

    model_config = ConfigDict(extra="forbid")
    name: str
    groups: dict[str, list[tuple[str, str]]]


def shipped_lists() -> list[str]:
    """Names of the swap lists that ship with harness."""
    return sorted(p.stem for p in SHIPPED.glob("*.yaml"))


def load_swaps(ref: str) -> SwapList:
    """The shipped swap list ``ref`` or the one in YAML file ``ref``.

    Raises:
        HarnessError: No such list or file, or the file is not a valid swap list.
    """
    path = Path(ref) if ref.endswith((".yaml", ".yml")) else SHIPPED / f"{ref}.yaml"
    if not path.is_file():
        raise HarnessError(
            f"--counterfactual {ref}: no such swap list; use one of {', '.join(shipped_lists())} "
            f"or a YAML file with name: and groups: {{group: [[term, swap], ...]}}"
        )
    try:
        swaps = SwapList.model_validate(yaml.safe_load(path.read_text(encoding="utf-8")))
    except (yaml.YAMLError, ValidationError) as e:
        first = str(e).splitlines()
        raise HarnessError(
            f"{path}: not a swap list ({'; '.join(first[:3])}); write name: and groups: "
            f"{{group: [[term, swap], ...]}}"
        ) from None
    if not swaps.groups or not all(swaps.groups.values()):
        raise HarnessError(f"{path}: every group needs at least one [term, swap] pair")
    return swaps


def swap_text(text: str, pairs: Sequence[tuple[str, str]]) -> str:
    """``text`` with each pair's terms swapped both ways (whole words, case kept). A term in
    several pairs takes its first."""
    table: dict[str, str] = {}
    for x, y in pairs:
        table.setdefault(x.lower(), y)
        table.setdefault(y.lower(), x)
    pattern = re.compile(r"\b(" + "|".join(map(re.escape, table)) + r")\b", re.IGNORECASE)
    return pattern.sub(lambda m: _same_case(m.group(0), table[m.group(0).lower()]), text)


def _same_case(word: str, repl: str) -> str:
    if word.isupper() and len(word) > 1:
        return repl.upper()
    if word[0].isupper():
        return repl[0].upper() + repl[1:]
    return repl


def _swap_prompt(prompt: Prompt, pairs: Sequence[tuple[str, str]]) -> Prompt:
    messages = tuple(Message(m.role, swap_text(m.content, pairs)) for m in prompt.messages)
    return Prompt(messages=messages, text=swap_text(prompt.text, pairs), fewshot=prompt.fewshot)


def expand(dataset: Dataset, swaps: SwapList) -> Dataset:
    """Each item followed by its swapped variants (ids ``<id>~<group>``), one per group whose
    terms occur in the prompt."""
    out: list[Sample] = []
    for s in dataset.samples:
        out.append(_tagged(s, s.id, s.prompt, {"role": "original", "pair": s.id}))
        for group, pairs in swaps.groups.items():
            swapped = _swap_prompt(s.prompt, pairs)
            if swapped != s.prompt:
                tag = {"role": "variant", "pair": s.id, "group": group}
                out.append(_tagged(s, f"{s.id}~{group}", swapped, tag))
    return Dataset(out, dataset.info)


def _tagged(s: Sample, sid: str, prompt: Prompt, tag: dict[str, Any]) -> Sample:
    return dataclasses.replace(s, id=sid, prompt=prompt, metadata={**s.metadata, KEY: tag})


def apply_counterfactual(
    tasks: Sequence[Task], datasets: Sequence[Dataset], ref: str
) -> tuple[list[Task], list[Dataset]]:
    """The tasks with paired scorers and their datasets with the swapped variants added."""
    swaps = load_swaps(ref)
    built = [
        dataclasses.replace(
            t,
            scorers=[PairedScorer(sc, swaps.name, i == 0) for i, sc in enumerate(t.scorers)],
            params={**t.params, KEY: swaps.name},
        )
        for t in tasks
    ]
    return built, [expand(d, swaps) for d in datasets]


def _role(s: Sample) -> str:
    return str((s.metadata.get(KEY) or {}).get("role", "original"))


class PairedScorer(Scorer):
    """Wraps a task's scorer for a counterfactual run: scores every item, aggregates the
    originals only, and (``primary``) adds the paired change and gap metrics."""

    def __init__(self, inner: Scorer, swap_list: str, primary: bool) -> None:
        self.inner, self.swap_list, self.primary = inner, swap_list, primary
        self.name, self.registry_name = inner.name, inner.registry_name
        self.metrics = inner.metrics + ((CHANGE_RATE, SCORE_GAP) if primary else ())
        self.args = inner.args

    def __call__(self, sample: Sample, output: Output) -> Score:
        return self.inner(sample, output)

    def preflight(self, ctx: RunContext) -> None:
        self.inner.preflight(ctx)

    def spec(self) -> dict[str, Any]:
        return self.inner.spec()

    def score_all(
        self, samples: Sequence[Sample], outputs: Sequence[Output], ctx: RunContext | None = None
    ) -> list[Score]:
        scores = self.inner.score_all(samples, outputs, ctx)
        if not self.primary:
            return scores
        first = {s.id: i for i, s in enumerate(samples) if _role(s) == "original"}
        out = list(scores)
        for i, s in enumerate(samples):
            j = first.get(str(s.metadata[KEY]["pair"])) if _role(s) == "variant" else None
            if j is not None:
                changed = _answer(scores[i], outputs[i]) != _answer(scores[j], outputs[j])
                out[i] = dataclasses.replace(
                    scores[i], values={**scores[i].values, CHANGE_RATE: float(changed)}
                )
        return out

    def aggregate(
        self, scores: Sequence[Score], samples: Sequence[Sample]
    ) -> dict[str, MetricValue]:
        keep = [i for i, s in enumerate(samples) if _role(s) == "original"]
        metrics = self.inner.aggregate(
            [_without_change(scores[i]) for i in keep], [samples[i] for i in keep]
        )
        if self.primary:
            summary = paired_summary(scores, samples)
            metrics[CHANGE_RATE] = mean_metric(summary.changes)
            metrics[SCORE_GAP] = summary.gap_metric()
        return metrics

    def extra(self, scores: Sequence[Score], samples: Sequence[Sample]) -> dict[str, Any]:
        keep = [i for i, s in enumerate(samples) if _role(s) == "original"]
        out = self.inner.extra([scores[i] for i in keep], [samples[i] for i in keep])
        if self.primary:
            out[KEY] = paired_summary(scores, samples).to_dict(self.swap_list)
        return out


def _answer(score: Score, output: Output) -> str:
    if score.answer is not None:
        return str(score.answer)
    return " ".join(output.text.split())


def _without_change(score: Score) -> Score:
    values = {k: v for k, v in score.values.items() if k != CHANGE_RATE}
    return dataclasses.replace(score, values=values)


@dataclasses.dataclass
class PairedSummary:
    """The scored (original, variant) pairs of a counterfactual run, in sample order.

    Attributes:
        metric: The first metric of the primary scorer (the score gap's metric).
        groups: Per pair, the swap group of the variant.
        changes: Per pair, 1.0 when the variant's answer differs from the original's.
        values: Per pair, the original's and the variant's ``metric`` (None: not scored).
    """

    metric: str | None
    groups: list[str]
    changes: list[float]
    values: list[tuple[float, float] | None]

    def subset(self, group: str) -> PairedSummary:
        idx = [i for i, g in enumerate(self.groups) if g == group]
        return PairedSummary(
            self.metric,
            [group] * len(idx),
            [self.changes[i] for i in idx],
            [self.values[i] for i in idx],
        )

    def _gap(self) -> Any:
        pairs = [v for v in self.values if v is not None]
        if not pairs:
            return None
        return compare([a for a, _ in pairs], [b for _, b in pairs], paired=True)

    def gap_metric(self) -> MetricValue:
        c = self._gap()
        if c is None:
            return MetricValue(value=math.nan, n=0)
        se = None if math.isnan(c.se) else c.se
        return MetricValue(c.delta, se, c.ci_low, c.ci_high, c.n, c.test)

    def stats(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "pairs": len(self.changes),
            "changed": int(sum(self.changes)),
            "change_rate": mean_metric(self.changes).to_dict(),
        }
        c = self._gap()
        if c is not None:
            out["score_gap"] = {k: v for k, v in c.to_dict().items() if k not in ("alpha", "se")}
        return out

    def to_dict(self, swap_list: str) -> dict[str, Any]:
        return {
            "swap_list": swap_list,
            "metric": self.metric,
            "all": self.stats(),
            "groups": {g: self.subset(g).stats() for g in dict.fromkeys(self.groups)},
        }


def paired_summary(scores: Sequence[Score], samples: Sequence[Sample]) -> PairedSummary:
    """The pairs among ``samples`` (both scored) with their change and first-metric values."""
    metric = next((k for s in scores for k in s.values if k != CHANGE_RATE), None)
    first = {s.id: i for i, s in enumerate(samples) if _role(s) == "original"}
    out = PairedSummary(metric, [], [], [])
    for i, s in enumerate(samples):
        changed = scores[i].values.get(CHANGE_RATE)
        j = first.get(str(s.metadata[KEY]["pair"])) if _role(s) == "variant" else None
        if j is None or changed is None:
            continue
        out.groups.append(str(s.metadata[KEY]["group"]))
        out.changes.append(float(changed))
        a, b = scores[j].values.get(metric or ""), scores[i].values.get(metric or "")
        out.values.append(None if a is None or b is None else (float(a), float(b)))
    return out


def summary_lines(extra: dict[str, Any]) -> list[str]:
    """One line per group of a run record's ``extra["counterfactual"]`` (none without it)."""
    cf = extra.get(KEY)
    if not cf:
        return []
    lines = []
    for group, st in cf["groups"].items():
        gap = st.get("score_gap")
        gap_text = (
            f"; {cf['metric']} gap {gap['delta']:+.3f} [{gap['ci_low']:+.3f}, "
            f"{gap['ci_high']:+.3f}], p={gap['p_value']:.3g} ({gap['test']})"
            if gap
            else ""
        )
        lines.append(
            f"counterfactual {cf['swap_list']}/{group}: {st['changed']} of {st['pairs']} "
            f"answers changed{gap_text}"
        )
    return lines
