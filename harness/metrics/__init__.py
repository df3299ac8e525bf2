"""Reusable metric scorers, registered by name so tasks and YAML task files can use them.

Each entry is a lazy ``"module:attr"`` reference in the `scorers` registry, so listing names
imports nothing heavy; sacrebleu, rouge-score, bert-score, scikit-learn and sqlglot load only
when a scorer is built or called.
"""

from __future__ import annotations

from harness._scorer import scorers

BUILTIN_SCORERS: dict[str, str] = {
    "exact_match": "harness.metrics.match:ExactMatch",
    "regex_match": "harness.extract:RegexMatch",
    "classification": "harness.metrics.classification:Classification",
    "bleu": "harness.metrics.text:Bleu",
    "chrf": "harness.metrics.text:Chrf",
    "rouge": "harness.metrics.text:Rouge",
    "bertscore": "harness.metrics.text:BertScore",
    "perplexity": "harness.metrics.perplexity:Perplexity",
    "pass_at_k": "harness.passk:PassAtK",
    "sql_exec": "harness.metrics.sql:SqlScorer",
    "choice_accuracy": "harness.metrics.choice:ChoiceAccuracy",
    "mc2": "harness.metrics.choice_mass:TrueMass",
}

for _name, _ref in BUILTIN_SCORERS.items():
    if _name not in scorers:
        scorers.register(_name, _ref)
