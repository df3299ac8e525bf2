"""Built-in tasks, one small module per task family.

``TASKS`` maps each registry name to its factory as a lazy ``"module:attr"`` reference; the
``harness.tasks`` entry point in pyproject.toml points here, so ``harness`` finds these tasks
without importing this package by name.
"""

TASKS: dict[str, str] = {
    "arc_challenge": "tasks.arc:arc_challenge",
    "arc_easy": "tasks.arc:arc_easy",
    "gsm8k": "tasks.gsm8k:gsm8k",
    "hellaswag": "tasks.hellaswag:hellaswag",
    "dialogsum": "tasks.dialogsum:dialogsum",
    "humaneval": "tasks.humaneval:humaneval",
    "ifeval": "tasks.ifeval:ifeval",
    "instruct": "tasks.instruct:instruct",
    "mmlu": "tasks.mmlu:mmlu",
    "perplexity": "tasks.perplexity:perplexity",
    "spider": "tasks.spider:spider",
    "truthfulqa_mc1": "tasks.truthfulqa_mc:truthfulqa_mc1",
    "truthfulqa_mc2": "tasks.truthfulqa_mc:truthfulqa_mc2",
    "tweeteval_sentiment": "tasks.tweeteval:tweeteval_sentiment",
    "viggo": "tasks.viggo:viggo",
    "winogrande": "tasks.winogrande:winogrande",
    "writingbench": "tasks.writingbench:writingbench",
}

# Scorers defined by task modules that other tasks (and YAML task files) may use by name; the
# ``harness.scorers`` entry point ``tasks`` points here.
SCORERS: dict[str, str] = {
    "mr_match": "tasks.viggo:MRScorer",
}
