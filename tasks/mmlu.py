"""MMLU: 57 subjects of four-option questions, 5-shot from each subject's dev split.

A raw row (``mmlu/test/abstract_algebra_test.csv`` in Hendrycks et al.'s ``data.tar`` layout:
``dev/``, ``val/``, ``test/``, one headerless CSV per subject)::

    "Find all c in Z_3 such that Z_3[x]/(x^2 + c) is a field.",0,1,2,3,B

lm-eval's ``mmlu`` (``default/_default_template_yaml``): the subject's description
``The following are multiple choice questions (with answers) about abstract algebra.\\n\\n``,
then the first ``num_fewshot`` dev items (``sampler: first_n``), each
``{question}\\nA. …\\nB. …\\nC. …\\nD. …\\nAnswer: B`` followed by a blank line, then the item
without its answer; the choices `` A`` … `` D`` are scored; ``acc`` only. Each sample keeps its
subject in ``metadata["subject"]`` (the task's category: every metric is also reported per
subject) and lm-eval's group (stem, humanities, social_sciences, other) in
``metadata["group"]``. Online the hub's ``cais/mmlu`` (config ``all``) gives the same rows.
"""

from __future__ import annotations

import csv
from pathlib import Path

from harness import (
    DataError,
    DataOptions,
    Dataset,
    DatasetInfo,
    HarnessError,
    Task,
    dataset_dir,
    load_hub,
    read_text,
    sha256_file,
    task,
)
from tasks._choice import choice_sample, choice_task

HUB_ID = "cais/mmlu"
LETTERS = ("A", "B", "C", "D")
DESCRIPTION = "The following are multiple choice questions (with answers) about {topic}.\n\n"
QUESTION = "{question}\nA. {a}\nB. {b}\nC. {c}\nD. {d}\nAnswer:"
SPLITS = {"test": ("test", "test"), "val": ("val", "validation"), "dev": ("dev", "dev")}
SPLITS["validation"] = SPLITS["val"]

Row = tuple[str, list[str], int]  # question, four choices, answer index

GROUPS: dict[str, tuple[str, ...]] = {
    "stem": (
        "abstract_algebra",
        "anatomy",
        "astronomy",
        "college_biology",
        "college_chemistry",
        "college_computer_science",
        "college_mathematics",
        "college_physics",
        "computer_security",
        "conceptual_physics",
        "electrical_engineering",
        "elementary_mathematics",
        "high_school_biology",
        "high_school_chemistry",
        "high_school_computer_science",
        "high_school_mathematics",
        "high_school_physics",
        "high_school_statistics",
        "machine_learning",
    ),
    "humanities": (
        "formal_logic",
        "high_school_european_history",
        "high_school_us_history",
        "high_school_world_history",
        "international_law",
        "jurisprudence",
        "logical_fallacies",
        "moral_disputes",
        "moral_scenarios",
        "philosophy",
        "prehistory",
        "professional_law",
        "world_religions",
    ),
    "social_sciences": (
        "econometrics",
        "high_school_geography",
        "high_school_government_and_politics",
        "high_school_macroeconomics",
        "high_school_microeconomics",
        "high_school_psychology",
        "human_sexuality",
        "professional_psychology",
        "public_relations",
        "security_studies",
        "sociology",
        "us_foreign_policy",
    ),
    "other": (
        "business_ethics",
        "clinical_knowledge",
        "college_medicine",
        "global_facts",
        "human_aging",
        "management",
        "marketing",
        "medical_genetics",
        "miscellaneous",
        "nutrition",
        "professional_accounting",
        "professional_medicine",
        "virology",
    ),
}
# lm-eval's subjects and groups (``mmlu/_generate_configs.py``); evaluated in name order.
SUBJECTS: dict[str, str] = dict(sorted((s, g) for g, names in GROUPS.items() for s in names))


def _csv_rows(path: Path) -> list[Row]:
    import io

    rows = []
    with io.StringIO(read_text(path), newline="") as f:
        for lineno, rec in enumerate(csv.reader(f), 1):
            if len(rec) != 6 or rec[5].strip() not in LETTERS:
                raise DataError(
                    f"{path}:{lineno}: expected question, four choices and an answer A-D "
                    f"(6 columns), got {len(rec)} column(s)"
                )
            rows.append((rec[0], rec[1:5], LETTERS.index(rec[5].strip())))
    return rows


def _local(
    folder: Path, split: str, subjects: list[str]
) -> tuple[dict[str, list[Row]], list[Path]]:
    sub = SPLITS[split][0]
    paths = {s: folder / sub / f"{s}_{sub}.csv" for s in subjects}
    missing = [str(p) for p in paths.values() if not p.is_file()]
    if missing:
        raise DataError(
            f"mmlu: {len(missing)} subject file(s) missing, e.g. {missing[0]}; put Hendrycks's "
            f"data/{sub}/ there or choose subjects with -T subjects=abstract_algebra,anatomy"
        )
    return {s: _csv_rows(p) for s, p in paths.items()}, list(paths.values())


def _hub(split: str, subjects: list[str]) -> tuple[dict[str, list[Row]], str | None]:
    raw, revision = load_hub(HUB_ID, SPLITS[split][1], "all")
    out: dict[str, list[Row]] = {s: [] for s in subjects}
    for r in raw:
        if r["subject"] in out:
            out[r["subject"]].append((str(r["question"]), list(r["choices"]), int(r["answer"])))
    return out, revision


def render(row: Row, answer: bool) -> str:
    """One question in lm-eval's MMLU format, with its answer letter when ``answer``."""
    question, ch, gold = row
    text = QUESTION.format(question=question.strip(), a=ch[0], b=ch[1], c=ch[2], d=ch[3])
    return text + f" {LETTERS[gold]}\n\n" if answer else text


def prompt_of(subject: str, shots: list[Row], row: Row) -> str:
    """The full prompt: description, the exemplars, the question."""
    head = DESCRIPTION.format(topic=" ".join(subject.split("_")))
    return head + "".join(render(s, True) for s in shots) + render(row, False)


def parse_subjects(subjects: str | list[str] | None) -> list[str]:
    """The chosen subjects (all 57 when None), each checked against lm-eval's list."""
    if subjects is None:
        return list(SUBJECTS)
    chosen = subjects.split(",") if isinstance(subjects, str) else list(subjects)
    chosen = [s.strip() for s in chosen if s.strip()]
    unknown = [s for s in chosen if s not in SUBJECTS]
    if unknown or not chosen:
        raise HarnessError(
            f"mmlu: unknown subject(s) {', '.join(unknown) or '(none given)'}; the 57 subjects "
            f"are named as in lm-eval, e.g. abstract_algebra, high_school_physics"
        )
    return chosen


def _load(options: DataOptions, subjects: list[str], num_fewshot: int) -> Dataset:
    split = options.split or "test"
    if split not in SPLITS or split == "dev":
        raise DataError(f"mmlu evaluates test or val (dev holds the exemplars), not {split!r}")
    folder = dataset_dir(options, "mmlu", [])
    if folder is None:
        rows, revision = _hub(split, subjects)
        shots = _hub("dev", subjects)[0]
        n = sum(len(v) for v in rows.values())
        info = DatasetInfo("mmlu", "hub", HUB_ID, split, revision=revision, n_total=n)
    else:
        rows, paths = _local(folder, split, subjects)
        shots, dev_paths = _local(folder, "dev", subjects)
        files = {f"{p.parent.name}/{p.name}": sha256_file(p) for p in paths + dev_paths}
        n = sum(len(v) for v in rows.values())
        info = DatasetInfo("mmlu", "local", str(folder), split, files=files, n_total=n)
    samples = []
    for subject in subjects:
        if len(shots[subject]) < num_fewshot:
            raise DataError(
                f"mmlu {subject}: dev has {len(shots[subject])} items, fewer than "
                f"num_fewshot={num_fewshot}"
            )
        for i, row in enumerate(rows[subject]):
            prompt = prompt_of(subject, shots[subject][:num_fewshot], row)
            samples.append(
                choice_sample(
                    f"{subject}-{i}",
                    prompt,
                    list(LETTERS),
                    row[2],
                    subject=subject,
                    group=SUBJECTS[subject],
                )
            )
    return Dataset(samples, info)


@task(description="MMLU, 57 subjects, 5-shot from dev, lm-eval's prompt; acc per subject")
def mmlu(
    num_fewshot: int = 5, subjects: str | list[str] | None = None, chat_template: bool = False
) -> Task:
    """MMLU as lm-eval's ``mmlu`` (``subjects``: a comma-separated subset; None: all 57)."""
    chosen = parse_subjects(subjects)
    if not 0 <= num_fewshot <= 5:
        raise HarnessError(
            f"mmlu: num_fewshot must be 0-5 (dev has 5 per subject), not {num_fewshot}"
        )
    return choice_task(
        "mmlu",
        description="MMLU",
        load=lambda options: _load(options, chosen, num_fewshot),
        template=DESCRIPTION + QUESTION + f" [{num_fewshot}-shot from dev; choices ' A'..' D']",
        chat_template=chat_template,
        acc_norm=False,
        categories="subject",
        primary_metrics=("acc", "acc_macro"),
    )
