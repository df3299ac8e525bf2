"""DialogSum: summarise a two-person dialogue; three human references per test dialogue.

A raw record (``$HARNESS_DATA_DIR/dialogsum/dialogsum.test.jsonl``)::

    {"fname": "test_0", "dialogue": "#Person1#: Ms. Dawson, I need you to take a dictation ...",
     "summary1": "Ms. Dawson helps #Person1# to write a memo ...", "summary2": "...",
     "summary3": "...", "topic1": "communication method", ...}

The dev split has one reference (``summary``). Metrics, all against every reference
(`harness.metrics.text`): corpus BLEU and chrF (``bleu``, ``chrf``: sacrebleu, signature in
the run record; the per-item sentence scores are ``bleu_sentence`` / ``chrf_sentence``),
ROUGE-1/2/L (rouge-score, stemmed, best reference), and BERTScore with the local MiniLM model
(raw scores: no rescale baseline exists for it; ``bertscore=False`` skips it). The hub copy
lacks the three test references, so this task reads local files only.
"""

from __future__ import annotations

from typing import Any

from harness import (
    DataError,
    DataOptions,
    Dataset,
    DatasetInfo,
    GenerationParams,
    Prompt,
    Sample,
    Scorer,
    Task,
    dataset_dir,
    read_jsonl,
    sha256_file,
    task,
)
from harness.metrics.text import BertScore, Bleu, Chrf, Rouge

NAME = "dialogsum"
TEMPLATE = "Summarize the following dialogue in one or two sentences.\n\n{dialogue}\n\nSummary:"
FILES = {
    "test": "dialogsum.test.jsonl",
    "dev": "dialogsum.dev.jsonl",
    "validation": "dialogsum.dev.jsonl",
}


def references_of(row: dict[str, Any]) -> list[str]:
    """``summary1..3`` (test) or ``summary`` (dev), in order."""
    refs = [row[k] for k in ("summary1", "summary2", "summary3") if row.get(k)]
    if not refs and row.get("summary"):
        refs = [row["summary"]]
    if not refs:
        raise DataError(f"dialogsum row {row.get('fname', '?')} has no summary/summary1..3 field")
    return [str(r).strip() for r in refs]


@task(description="DialogSum dialogue summarisation (BLEU, chrF, ROUGE, BERTScore; 3 references)")
def dialogsum(bertscore: bool = True) -> Task:
    """DialogSum dialogue summarisation."""

    def load(options: DataOptions) -> Dataset:
        split = options.split or "test"
        if split not in FILES:
            raise DataError(f"dialogsum has splits test and dev, not {split!r}")
        folder = dataset_dir(options, NAME, [FILES[split]])
        if folder is None:
            raise DataError(
                "dialogsum reads local files only (the hub copy lacks the three test "
                "references): pass --data-dir or set HARNESS_DATA_DIR"
            )
        path = folder / FILES[split]
        rows = list(read_jsonl(path, required=("fname", "dialogue")))
        info = DatasetInfo(
            NAME,
            "local",
            str(folder),
            split,
            files={path.name: sha256_file(path)},
            n_total=len(rows),
        )
        samples = [
            Sample(
                id=str(r["fname"]),
                prompt=Prompt.plain(TEMPLATE.format(dialogue=r["dialogue"])),
                target=references_of(r),
            )
            for r in rows
        ]
        return Dataset(samples, info)

    scorers: list[Scorer] = [Bleu(), Chrf(), Rouge()] + ([BertScore()] if bertscore else [])
    return Task(
        name=NAME,
        version="1",
        description="DialogSum dialogue summarisation",
        load=load,
        primary_metrics=("rougeL", "bleu", "chrf", "bertscore_f1"),
        scorers=scorers,
        generation=GenerationParams(max_new_tokens=80, stop=("\n\n", "<|im_end|>")),
        prompt_template=TEMPLATE,
    )
