"""Perplexity of a model on your own text: a ``.txt`` file or a JSONL file.

``-T path=notes.txt``: documents are the file's paragraphs (separated by blank lines).
``-T path=data.jsonl -T field=text``: one document per row, the text in ``field``.

Each document's first word is conditioning context (a causal LM needs at least one token before
the first scored one) and every later token is scored; the run metric is token-weighted
perplexity, exp(-Σ logp / Σ tokens), with its bootstrap interval, and the totals go to the run
record's ``extra``. Perplexity is about raw text, so run it with ``--no-chat-template``: with a
chat template the backend wraps the first word in a user turn and the text is scored as the
assistant's reply. Documents longer than the model's context window are not split; keep them
shorter (a few thousand tokens).
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from harness import (
    DataError,
    DataOptions,
    Dataset,
    DatasetInfo,
    HarnessError,
    Prompt,
    Sample,
    Task,
    read_jsonl,
    read_text,
    sha256_file,
    task,
)
from harness.metrics.perplexity import Perplexity, split_context


def read_documents(path: Path, field: str) -> list[str]:
    """The non-empty documents of a ``.txt`` (paragraphs) or ``.jsonl`` (``field``) file."""
    if path.suffix == ".jsonl":
        docs = [str(row[field]) for row in read_jsonl(path, required=(field,))]
    else:
        docs = re.split(r"\n\s*\n", read_text(path))
    return [d.strip() for d in docs if d.strip()]


@task(description="Token-weighted perplexity over a .txt (paragraphs) or .jsonl file (-T path=...)")
def perplexity(path: str = "", field: str = "text") -> Task:
    """Token-weighted perplexity over a text or JSONL file."""
    if not path:
        raise HarnessError(
            "task perplexity needs a file: -T path=FILE.txt or -T path=FILE.jsonl -T field=text"
        )
    file = Path(os.path.expandvars(os.path.expanduser(path)))

    def load(options: DataOptions) -> Dataset:
        if not file.is_file():
            raise DataError(
                f"perplexity: {file} is not a file; pass -T path=<a .txt or .jsonl file>"
            )
        docs = read_documents(file, field)
        info = DatasetInfo(
            file.stem,
            "local",
            str(file),
            "all",
            files={file.name: sha256_file(file)},
            n_total=len(docs),
        )
        samples = []
        for i, doc in enumerate(docs):
            context, rest = split_context(doc)
            samples.append(
                Sample(
                    id=f"doc-{i}",
                    prompt=Prompt.plain(context),
                    target=None,
                    choices=[rest],
                    metadata={"chars": len(doc)},
                )
            )
        return Dataset(samples, info)

    return Task(
        name="perplexity",
        version="1",
        description="Token-weighted perplexity",
        load=load,
        primary_metrics=("perplexity",),
        scorers=[Perplexity()],
        prompt_template="<first word> | <rest of the document, scored>",
        mode="loglikelihood",
    )
