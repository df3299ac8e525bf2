"""Per-item checklist grading (WritingBench style): one judge verdict per criterion.

`RubricJudge` is a `judges.grading.JudgeScorer` whose judged units are the criteria of each
sample's ``metadata["checklist"]``; the sample's score is their mean.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from harness import Output, Sample, scorer
from judges.client import JudgeClient
from judges.config import JudgeConfig
from judges.grading import JudgeScorer, Slot
from judges.templates import PLACEHOLDERS, JudgeTemplate
from judges.turns import question_of


@scorer("judge_rubric", metrics=("<name>_score", "<name>_parse_failure_rate", "<name>_error_rate"))
class RubricJudge(JudgeScorer):
    """Grades an answer against each criterion of a per-item checklist; the score is their mean.

    Each sample's ``metadata["checklist"]`` is a list of criteria, each a string or a dict
    (WritingBench style: ``name``, ``criteria_description`` and score-band descriptions).
    """

    placeholders = PLACEHOLDERS["judge_rubric"]
    path_args = ("template",)

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

    def slots(self, sample: Sample, output: Output) -> list[Slot]:
        """One judged unit per checklist criterion."""
        answer = self.template.wrap(output.text)
        return [
            Slot(
                self.template,
                {"question": question_of(sample), "answer": answer, "criterion": criterion_text(c)},
            )
            for c in sample.metadata.get("checklist", [])
        ]


def criterion_text(criterion: Any) -> str:
    """A checklist criterion as text (a dict's name, description and score bands)."""
    if not isinstance(criterion, dict):
        return str(criterion)
    lines = [str(criterion.get("name", "")), str(criterion.get("criteria_description", ""))]
    lines += [f"{k}: {v}" for k, v in criterion.items() if k[:1].isdigit()]
    return "\n".join(x for x in lines if x)
