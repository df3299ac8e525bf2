"""LLM-as-judge and RAGAS scorers, usable with OpenAI, a remote vLLM, or a local judge server.

- `JudgeScorer`: 1-10 grades with or without a reference (templates ``single``,
  ``reference``, ``math``, ``code``), `RubricJudge` for per-item checklists;
- `judge_pairs` / `pairs_from_runs`: A-vs-B in both orders, consistency and position bias;
- `measure_injection`: score inflation of prompt-injected answers over clean twins;
- `judges.calibration`: known-good / known-bad pairs (``--judge-calibration``);
  `judges.run_agreement`: two judges on the same outputs (``harness judge-agreement``);
- `RagasScorer`: answer correctness, semantic similarity, faithfulness (ragas 0.4.3);
- `JudgeConfig`: which judge, from task parameters or ``HARNESS_JUDGE_*``.

Importing this package is cheap; ragas and vLLM load only when used.
"""

from judges.config import JudgeConfig
from judges.grading import JudgeScorer
from judges.injection import InjectionReport, measure_injection
from judges.pairwise import PairItem, PairwiseResult, judge_pairs, pairs_from_runs
from judges.ragas_metrics import RagasScorer
from judges.rubric import RubricJudge
from judges.templates import BUILTIN as TEMPLATES
from judges.templates import JudgeTemplate, load_template

# Every judge scorer by registry name; the ``harness.scorers`` entry point ``judges`` points
# here, so ``metrics: [judge]`` in a task file finds them without harness importing judges.
SCORERS: dict[str, str] = {
    "judge": "judges.grading:JudgeScorer",
    "judge_rubric": "judges.rubric:RubricJudge",
    "judge_pairwise": "judges.pairwise_scorer:PairwiseJudge",
    "ragas": "judges.ragas_metrics:RagasScorer",
    "ragas_answer_correctness": "judges.ragas_named:AnswerCorrectness",
    "ragas_semantic_similarity": "judges.ragas_named:SemanticSimilarity",
    "ragas_faithfulness": "judges.ragas_named:Faithfulness",
}

__all__ = [
    "SCORERS",
    "TEMPLATES",
    "InjectionReport",
    "JudgeConfig",
    "JudgeScorer",
    "JudgeTemplate",
    "PairItem",
    "PairwiseResult",
    "RagasScorer",
    "RubricJudge",
    "judge_pairs",
    "load_template",
    "measure_injection",
    "pairs_from_runs",
]
