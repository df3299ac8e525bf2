"""Training examples: where they come from and how they become token ids with a loss mask.

An example is a prompt (chat messages) and the completion the model should learn. From a task,
the prompt is the task's own eval-time prompt (`Sample.prompt`), so the adapter is trained on
exactly what it is later asked. From a file, rows are alpaca (``instruction``/``input``/
``output``) or chat (``messages``, the last one the assistant's answer).

`encode` renders prompt and completion with the chosen template, tokenizes them separately and
concatenates, so ``completion_mask`` is 0 on exactly the prompt tokens and the prompt tokens are
identical to what ``apply_chat_template(..., add_generation_prompt=True)`` gives at eval time.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness import (
    DataError,
    DataOptions,
    Message,
    get_task,
    load_dataset,
    read_jsonl,
    sha256_file,
)

LLAMA2_SYSTEM = "<<SYS>>\n{system}\n<</SYS>>\n\n"


@dataclass
class Example:
    """One training pair: the prompt (as chat messages and as plain text) and the completion."""

    messages: list[dict[str, str]]
    completion: str
    text: str = ""

    def __post_init__(self) -> None:
        if not self.text:
            self.text = "\n\n".join(m["content"] for m in self.messages)


@dataclass
class DataSource:
    """Where training examples came from, for the manifest."""

    kind: str  # "task" or "file"
    name: str
    split: str | None
    files: dict[str, str]  # file name -> sha256


def _as_dicts(messages: tuple[Message, ...] | list[Message]) -> list[dict[str, str]]:
    return [{"role": m.role, "content": m.content} for m in messages]


def task_examples(
    task_name: str, split: str, data_dir: Path | None = None, limit: int | None = None
) -> tuple[list[Example], DataSource]:
    """Examples from a task's split, with the task's eval-time prompt.

    Raises:
        DataError: A target is not text (the task cannot be trained on as is).
    """
    task = get_task(task_name)
    dataset = load_dataset(task, DataOptions(data_dir=data_dir, split=split, limit=limit))
    examples = []
    for s in dataset.samples:
        completion = s.metadata.get("completion", s.target)
        if not isinstance(completion, str):
            raise DataError(
                f"task {task_name!r} sample {s.id} has a non-text target; "
                f"train on it with --data file.jsonl instead"
            )
        examples.append(Example(_as_dicts(s.prompt.messages), completion, s.prompt.text))
    info = dataset.info
    return examples, DataSource("task", task_name, split, dict(info.files))


def file_examples(path: Path) -> tuple[list[Example], DataSource]:
    """Examples from a JSONL file in alpaca or chat format.

    Raises:
        DataError: A row is neither format, or a chat row does not end with the assistant.
    """
    if not Path(path).is_file():
        raise DataError(f"training data {path} does not exist; pass a JSONL file with --data")
    examples = []
    for lineno, row in enumerate(read_jsonl(Path(path)), 1):
        examples.append(_row_example(row, f"{path}:{lineno}"))
    if not examples:
        raise DataError(f"{path} holds no rows")
    return examples, DataSource(
        "file", Path(path).name, None, {Path(path).name: sha256_file(Path(path))}
    )


def _row_example(row: dict[str, Any], where: str) -> Example:
    if "messages" in row:
        msgs = row["messages"]
        if not msgs or not isinstance(msgs, list) or msgs[-1].get("role") != "assistant":
            raise DataError(
                f"{where}: `messages` must end with an assistant message (the completion)"
            )
        return Example(
            [{"role": m["role"], "content": m["content"]} for m in msgs[:-1]], msgs[-1]["content"]
        )
    if "instruction" in row and "output" in row:
        user = row["instruction"] + (f"\n\n{row['input']}" if row.get("input") else "")
        return Example([{"role": "user", "content": user}], str(row["output"]))
    raise DataError(
        f"{where}: row has neither `messages` (chat) nor `instruction`/`output` (alpaca); "
        f"fields found: {', '.join(sorted(row)) or 'none'}"
    )


def resolve_template(tokenizer: Any, template: str) -> str:
    """``auto`` becomes ``chat`` when the tokenizer has a chat template, else ``plain``."""
    if template == "auto":
        return "chat" if getattr(tokenizer, "chat_template", None) else "plain"
    return template


def render(tokenizer: Any, example: Example, template: str) -> tuple[str, str]:
    """The prompt string (ending where generation starts) and the completion string after it.

    Templates: ``chat`` (the tokenizer's chat template, as chat backends render at eval time),
    ``plain`` (the task's plain-text prompt, as completion backends send it), ``llama2``
    (``<s>[INST] <<SYS>>...<</SYS>> prompt [/INST] completion </s>``).
    """
    messages, completion = example.messages, example.completion
    template = resolve_template(tokenizer, template)
    if template == "plain":
        return example.text, f" {completion}{tokenizer.eos_token or ''}"
    if template == "llama2":
        system = "".join(m["content"] for m in messages if m["role"] == "system")
        turns = [m["content"] for m in messages if m["role"] != "system"]
        head = LLAMA2_SYSTEM.format(system=system) if system else ""
        prompt = f"{tokenizer.bos_token or '<s>'}[INST] {head}{chr(10).join(turns)} [/INST]"
        return prompt, f" {completion} {tokenizer.eos_token or '</s>'}"
    if not getattr(tokenizer, "chat_template", None):
        raise DataError(
            "the tokenizer has no chat template; set `template: plain` or `llama2` in the recipe"
        )
    prompt = tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
    full = tokenizer.apply_chat_template(
        [*messages, {"role": "assistant", "content": completion}], tokenize=False
    )
    if not full.startswith(prompt):
        raise DataError(
            "the chat template renders the prompt differently with an answer; use template: llama2"
        )
    return prompt, full[len(prompt) :]


def encode(
    tokenizer: Any, example: Example, template: str, max_length: int
) -> dict[str, list[int]] | None:
    """Token ids and ``completion_mask`` (0 on prompt, 1 on completion); None if nothing is left.

    Examples longer than ``max_length`` keep their start; one whose completion is cut away
    entirely is dropped (it would teach nothing).
    """
    prompt, completion = render(tokenizer, example, template)
    # Plain prompts get the tokenizer's own special tokens (BOS), as backends send them at eval
    # time; chat and llama2 renderings already hold theirs as text.
    p_ids = tokenizer(prompt, add_special_tokens=resolve_template(tokenizer, template) == "plain")[
        "input_ids"
    ]
    c_ids = tokenizer(completion, add_special_tokens=False)["input_ids"]
    ids = (p_ids + c_ids)[:max_length]
    mask = ([0] * len(p_ids) + [1] * len(c_ids))[:max_length]
    if not any(mask):
        return None
    return {"input_ids": ids, "completion_mask": mask}
