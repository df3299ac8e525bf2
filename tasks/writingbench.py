"""WritingBench: open-ended writing requests graded by a judge against per-query checklists.

The 1,000 queries (Chinese and English, six domains) ship in the ``inspect-evals`` wheel as
``inspect_evals/writingbench/benchmark_all.jsonl`` (``pip install --no-deps inspect-evals``).
A raw record::

    {"index": 1, "domain1": "Academic & Engineering", "domain2": "Paper Outline",
     "query": "I want to write a paper on ...",
     "checklist": [{"name": "...", "criteria_description": "...", "1-2": "...", ...,
                    "9-10": "..."}, ...]}

Each response is scored 1-10 against every checklist criterion (one judge call each, with
that criterion's score bands); the item's score is their mean (``rubric_score``). Parse
failures and request errors are counted per criterion.
"""

from __future__ import annotations

import importlib.metadata as md
import importlib.util
from pathlib import Path

from harness import (
    DataError,
    DataOptions,
    Dataset,
    DatasetInfo,
    GenerationParams,
    Prompt,
    Sample,
    Task,
    read_jsonl,
    sha256_file,
    task,
)
from judges import RubricJudge

RESOURCE = "writingbench/benchmark_all.jsonl"


def benchmark_file() -> Path:
    """The queries file inside the installed inspect-evals wheel (not imported, only located)."""
    spec = importlib.util.find_spec("inspect_evals")
    if spec is None or not spec.submodule_search_locations:
        raise DataError(
            "WritingBench queries come from the inspect-evals wheel; "
            "pip install --no-deps inspect-evals"
        )
    path = Path(next(iter(spec.submodule_search_locations))) / RESOURCE
    if not path.is_file():
        raise DataError(
            f"{path} is missing from the installed inspect-evals; "
            f"reinstall it (pip install --no-deps --force-reinstall inspect-evals)"
        )
    return path


@task(
    description="WritingBench writing requests, judged 1-10 per query-specific checklist criterion"
)
def writingbench(
    language: str = "all",
    domain: str | None = None,
    judge_model: str | None = None,
    judge_base_url: str | None = None,
    judge_api_key_env: str | None = None,
    judge_local: bool | None = None,
) -> Task:
    """WritingBench: queries with per-query rubrics, graded by an LLM judge.

    Args:
        language: "all", "en" (ASCII-only queries) or "zh" (the others).
        domain: Keep one ``domain1`` (e.g. "Academic & Engineering").
    """
    if language not in ("all", "en", "zh"):
        raise DataError(f"writingbench language {language!r}: use all, en or zh")
    judge = {
        "model": judge_model,
        "base_url": judge_base_url,
        "api_key_env": judge_api_key_env,
        "local": judge_local,
    }  # on top of the run's judge (--judge-* options)

    def load(options: DataOptions) -> Dataset:
        path = benchmark_file()
        rows = list(read_jsonl(path, required=("index", "query", "checklist")))
        info = DatasetInfo(
            "writingbench",
            "package",
            f"inspect_evals/{RESOURCE}",
            "test",
            revision=f"inspect-evals=={md.version('inspect-evals')}",
            files={path.name: sha256_file(path)},
            n_total=len(rows),
        )
        if language != "all":
            rows = [r for r in rows if r["query"].isascii() == (language == "en")]
        if domain:
            rows = [r for r in rows if r.get("domain1") == domain]
        samples = [
            Sample(
                id=str(r["index"]),
                prompt=Prompt.plain(r["query"]),
                target=None,
                metadata={
                    "question": r["query"],
                    "checklist": r["checklist"],
                    "domain1": r.get("domain1"),
                    "domain2": r.get("domain2"),
                },
            )
            for r in rows
        ]
        return Dataset(samples, info)

    return Task(
        name="writingbench",
        version="1",
        description="WritingBench rubric-graded writing",
        load=load,
        primary_metrics=("rubric_score",),
        scorers=[RubricJudge("rubric", name="rubric", overrides=judge)],
        generation=GenerationParams(max_new_tokens=1024, stop=("<|im_end|>", "</s>")),
        prompt_template="{query}",
    )
