"""Built-in tasks, one small module per task family.

``TASKS`` maps each registry name to its factory as a lazy ``"module:attr"`` reference; the
``harness.tasks`` entry point in pyproject.toml points here, so ``harness`` finds these tasks
without importing this package by name.
"""

TASKS: dict[str, str] = {
    "gsm8k": "tasks.gsm8k:gsm8k",
    "dialogsum": "tasks.dialogsum:dialogsum",
    "humaneval": "tasks.humaneval:humaneval",
    "instruct": "tasks.instruct:instruct",
    "perplexity": "tasks.perplexity:perplexity",
    "spider": "tasks.spider:spider",
    "tweeteval_sentiment": "tasks.tweeteval:tweeteval_sentiment",
    "viggo": "tasks.viggo:viggo",
    "writingbench": "tasks.writingbench:writingbench",
}

# Scorers defined by task modules that other tasks (and YAML task files) may use by name; the
# ``harness.scorers`` entry point ``tasks`` points here.
SCORERS: dict[str, str] = {
    "mr_match": "tasks.viggo:MRScorer",
}
