"""Instruction following on an alpaca-format file, scored by an LLM judge and RAGAS.

A raw record (one JSON object per line; ``input`` may be empty; ``contexts`` optional)::

    {"instruction": "Give the capital city of the country.", "input": "Canada",
     "output": "The capital of Canada is Ottawa."}

The model sees the instruction (and input) as one user turn, or the Alpaca prompt without a
chat template. Scores are the three columns of the fine-tuning comparison: a 1-10 judge grade
against the reference ``output`` (``judge_score``), RAGAS answer correctness and answer
semantic similarity; RAGAS faithfulness is added for items that carry ``contexts``. Rows may
carry ``human_score`` (1-10) to measure judge agreement. The judge comes from the
run's judge (``--judge*`` options, ``HARNESS_JUDGE_*`` defaults at the command line), with the
``judge_*`` task parameters on top.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from harness import (
    DataError,
    DataOptions,
    Dataset,
    DatasetInfo,
    GenerationParams,
    Message,
    Prompt,
    Sample,
    Task,
    read_jsonl,
    sha256_file,
    task,
)
from judges import JudgeScorer, RagasScorer

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "data" / "instruct_sample.jsonl"
ALPACA = (
    "Below is an instruction that describes a task{with_input}. Write a response that "
    "appropriately completes the request.\n\n### Instruction:\n{instruction}\n\n"
    "{input_block}### Response:\n"
)
PASSTHROUGH = ("human_score", "contexts", "category", "id")


def user_turn(instruction: str, input_text: str) -> str:
    """The instruction and its input as one user message."""
    return f"{instruction}\n\n{input_text}" if input_text.strip() else instruction


def build_prompt(instruction: str, input_text: str) -> Prompt:
    """Chat form: one user turn; plain form: the Alpaca template."""
    has_input = bool(input_text.strip())
    text = ALPACA.format(
        with_input=", paired with an input that provides further context" if has_input else "",
        instruction=instruction,
        input_block=f"### Input:\n{input_text}\n\n" if has_input else "",
    )
    return Prompt(messages=(Message("user", user_turn(instruction, input_text)),), text=text)


def load_rows(path: Path, options: DataOptions) -> tuple[list[Sample], DatasetInfo]:
    """Samples from an alpaca JSONL file (all rows; the runner applies ``limit``)."""
    if not path.is_file():
        raise DataError(
            f"instruct data file {path} not found; pass -T path=FILE.jsonl "
            f"(alpaca format: instruction, input, output)"
        )
    rows = list(read_jsonl(path, required=("instruction", "output")))
    info = DatasetInfo(
        path.stem,
        "local",
        str(path),
        options.split or "test",
        files={path.name: sha256_file(path)},
        n_total=len(rows),
    )
    samples = []
    for i, r in enumerate(rows):
        instruction, input_text = str(r["instruction"]), str(r.get("input") or "")
        meta: dict[str, Any] = {k: r[k] for k in PASSTHROUGH if k in r}
        meta["question"] = user_turn(instruction, input_text)
        samples.append(
            Sample(
                id=str(r.get("id", i)),
                prompt=build_prompt(instruction, input_text),
                target=str(r["output"]),
                metadata=meta,
            )
        )
    return samples, info


@task(description="Alpaca-format instruction following: judge 1-10 + RAGAS correctness/similarity")
def instruct(
    path: str | None = None,
    judge_template: str = "reference",
    judge_model: str | None = None,
    judge_base_url: str | None = None,
    judge_api_key_env: str | None = None,
    judge_local: bool | None = None,
    ragas: bool = True,
    ragas_max_tokens: int = 1024,
    answer_correctness_weights: tuple[float, float] = (0.75, 0.25),
) -> Task:
    """Instruction following on an alpaca-format JSONL file (default: the shipped example)."""
    file = Path(path).expanduser() if path else EXAMPLE
    judge = {
        "model": judge_model,
        "base_url": judge_base_url,
        "api_key_env": judge_api_key_env,
        "local": judge_local,
    }  # on top of the run's judge (--judge-* options)
    scorers: list[Any] = [JudgeScorer(judge_template, name="judge", overrides=judge)]
    if ragas:
        scorers.append(
            RagasScorer(
                ("answer_correctness", "semantic_similarity", "faithfulness"),
                weights=answer_correctness_weights,
                max_tokens=ragas_max_tokens,
                overrides=judge,
            )
        )

    def load(options: DataOptions) -> Dataset:
        samples, info = load_rows(file, options)
        return Dataset(samples, info)

    return Task(
        name="instruct",
        version="1",
        description="Alpaca-format instruction following",
        load=load,
        primary_metrics=("judge_score", "answer_correctness", "semantic_similarity"),
        scorers=scorers,
        generation=GenerationParams(
            max_new_tokens=256, stop=("<|im_end|>", "</s>", "### Instruction:")
        ),
        prompt_template=ALPACA,
    )
