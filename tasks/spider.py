"""Spider (dev): write the SQLite query that answers a question about a database schema.

A raw question (``$HARNESS_DATA_DIR/spider/dev.json``) and its schema from ``tables.json``::

    {"db_id": "concert_singer", "question": "How many singers do we have?",
     "query": "SELECT count(*) FROM singer"}

The prompt gives the schema as ``CREATE TABLE`` statements with primary and foreign keys (the
sql-create-context style), then the question. Metrics (`harness.metrics.sql`): exact match after
sqlglot normalisation, valid-SQL rate, and execution match on synthetic SQLite databases built
from the schema (several seeds; Spider ships no database files here).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from harness import (
    DataError,
    DataOptions,
    Dataset,
    DatasetInfo,
    GenerationParams,
    Prompt,
    Sample,
    Task,
    dataset_dir,
    read_text,
    sha256_file,
    task,
)
from harness.metrics.sql import SqlScorer, schema_ddl

NAME = "spider"
SYSTEM = "You write SQLite queries. Answer with one SQL query and nothing else."
TEMPLATE = "{schema}\n\n-- Question: {question}\n-- SQLite query answering the question:\n"


def read_json_list(path: Path) -> list[dict[str, Any]]:
    """A JSON file holding a list of objects."""
    try:
        data = json.loads(read_text(path))
    except json.JSONDecodeError as e:
        raise DataError(f"{path}:{e.lineno}: not valid JSON ({e.msg})") from None
    if not isinstance(data, list):
        raise DataError(f"{path}: expected a JSON list")
    return data


@task(
    description="Spider text-to-SQL (dev): exact match, valid SQL, execution match on synthetic DBs"
)
def spider(seeds: int = 3, rows: int = 12) -> Task:
    """Spider text-to-SQL on the dev questions."""
    scorer = SqlScorer(seeds=range(seeds), rows=rows)

    def load(options: DataOptions) -> Dataset:
        split = options.split or "dev"
        if split != "dev":
            raise DataError(f"spider has only the dev split here, not {split!r}")
        folder = dataset_dir(options, NAME, ["dev.json", "tables.json"])
        if folder is None:
            raise DataError(
                "spider reads local files only (dev.json, tables.json): pass --data-dir "
                "or set HARNESS_DATA_DIR"
            )
        rows_ = read_json_list(folder / "dev.json")
        schemas = {s["db_id"]: s for s in read_json_list(folder / "tables.json")}
        info = DatasetInfo(
            NAME,
            "local",
            str(folder),
            split,
            n_total=len(rows_),
            files={f: sha256_file(folder / f) for f in ("dev.json", "tables.json")},
        )
        samples = []
        for i, r in enumerate(rows_):
            if r.get("db_id") not in schemas:
                raise DataError(
                    f"{folder / 'dev.json'}: item {i} names db_id {r.get('db_id')!r}, "
                    f"which tables.json lacks"
                )
            text = TEMPLATE.format(schema=schema_ddl(schemas[r["db_id"]]), question=r["question"])
            samples.append(
                Sample(
                    id=f"dev-{i}",
                    prompt=Prompt.plain(text, system=SYSTEM),
                    target=r["query"],
                    metadata={"db_id": r["db_id"]},
                )
            )
        scorer.schemas.update({r["db_id"]: schemas[r["db_id"]] for r in rows_})
        return Dataset(samples, info)

    return Task(
        name=NAME,
        version="1",
        description="Spider text-to-SQL",
        load=load,
        primary_metrics=("execution_match", "exact_match"),
        scorers=[scorer],
        generation=GenerationParams(max_new_tokens=160, stop=(";", "\n\n", "<|im_end|>")),
        prompt_template=SYSTEM + "\n\n" + TEMPLATE,
    )
