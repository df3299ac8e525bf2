"""Text-to-SQL scoring: exact match after sqlglot normalisation, valid-SQL rate, execution match.

Spider ships schemas, not rows, so execution match runs on SQLite databases harness builds from
a schema (``tables.json`` entry) with deterministic synthetic rows. The value pools mix a few
generated values per column with the literals of the two queries being compared (numbers also
±1, ``LIKE`` patterns filled in), so ``WHERE`` clauses select some rows and not others; primary
keys are unique and foreign-key columns take values of the column they reference, so joins
match. Two queries match when, on every seed's database, both run and return the same result:
the same multiset of rows, or the same list when the gold query's outermost SELECT has
``ORDER BY``. This is a test-suite-style approximation (after Zhong et al., 2020): a few random
databases can miss differences that only show on data they lack, and columns must come in the
same order. Tables are created without constraints (so generated rows never fail to insert);
no NULLs are generated.
"""

from __future__ import annotations

import random
import re
import sqlite3
import time
from collections import Counter
from collections.abc import Sequence
from typing import Any

from harness._scorer import Scorer, scorer
from harness._types import Output, Sample, Score

Schema = dict[str, Any]  # one entry of Spider's tables.json

_STRING = re.compile(r"'((?:[^']|'')*)'|\"([^\"]*)\"")
_NUMBER = re.compile(r"(?<![\w.])-?\d+(?:\.\d+)?(?![\w.])")
_SQL_START = re.compile(r"\b(SELECT|WITH)\b", re.IGNORECASE)
SQL_TYPES = {
    "number": "NUMERIC",
    "text": "TEXT",
    "time": "TEXT",
    "boolean": "INTEGER",
    "others": "TEXT",
}


def quote(name: str) -> str:
    """An identifier, double-quoted when it is not a plain word."""
    return (
        name
        if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name)
        else '"' + name.replace('"', '""') + '"'
    )


def _columns(schema: Schema) -> list[tuple[int, str, str]]:
    """(table index, column name, spider type) for every real column (skips ``*``)."""
    return [
        (t, name, schema["column_types"][i])
        for i, (t, name) in enumerate(schema["column_names_original"])
        if t >= 0
    ]


def schema_ddl(schema: Schema, constraints: bool = True) -> str:
    """``CREATE TABLE`` statements for a schema, with primary and foreign keys if asked."""
    names = schema["table_names_original"]
    cols = schema["column_names_original"]
    pks = set(schema.get("primary_keys", []))
    fks: dict[int, int] = dict(schema.get("foreign_keys", []))
    out = []
    for t, table in enumerate(names):
        if table.lower().startswith("sqlite_"):  # SQLite's own tables cannot be created
            continue
        lines = []
        key_cols = [cols[i][1] for i in sorted(pks) if cols[i][0] == t]
        for i, (ct, col) in enumerate(cols):
            if ct != t:
                continue
            lines.append(f"  {quote(col)} {SQL_TYPES.get(schema['column_types'][i], 'TEXT')}")
        if constraints and key_cols:
            lines.append(f"  PRIMARY KEY ({', '.join(quote(c) for c in key_cols)})")
        for a, b in fks.items():
            if constraints and cols[a][0] == t:
                lines.append(
                    f"  FOREIGN KEY ({quote(cols[a][1])}) REFERENCES "
                    f"{quote(names[cols[b][0]])}({quote(cols[b][1])})"
                )
        out.append(f"CREATE TABLE {quote(table)} (\n" + ",\n".join(lines) + "\n);")
    return "\n\n".join(out)


def identifiers(schema: Schema) -> set[str]:
    """Lower-cased table and column names."""
    return {n.lower() for n in schema["table_names_original"]} | {
        c.lower() for _, c in schema["column_names_original"]
    }


def literals(sql: str, schema: Schema) -> tuple[list[str], list[float]]:
    """String and number literals of ``sql``; double-quoted names of schema objects excluded,
    ``LIKE`` wildcards filled with letters."""
    names = identifiers(schema)
    strings = []
    for single, double in _STRING.findall(sql):
        if double and double.lower() in names:
            continue
        s = double or single.replace("''", "'")
        strings.append(s.replace("%", "x").replace("_", "a") if ("%" in s or "_" in s) else s)
    stripped = _STRING.sub("''", sql)
    numbers = [float(n) for n in _NUMBER.findall(stripped)]
    return sorted(set(strings)), sorted(set(numbers))


def _pool(
    ctype: str, column: str, strings: list[str], numbers: list[float], rng: random.Random
) -> list[Any]:
    if ctype == "number":
        near = {v + d for v in numbers for d in (-1, 0, 1)}
        return sorted(
            {int(v) if float(v).is_integer() else v for v in near}
            | {rng.randint(0, 60) for _ in range(4)}
        )
    if ctype == "boolean":
        return [0, 1]
    # Text columns often hold numbers (Spider's `Year TEXT`); SQLite compares them as text.
    as_text = [str(int(v)) if float(v).is_integer() else str(v) for v in numbers]
    if ctype == "time":
        dates = [
            f"20{rng.randint(0, 23):02d}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}"
            for _ in range(4)
        ]
        return dates + strings + as_text
    return [f"{column[:12]} {k}" for k in range(1, 4)] + strings + as_text


def build_database(
    schema: Schema, seed: int, sqls: Sequence[str] = (), rows: int = 12
) -> sqlite3.Connection:
    """An in-memory SQLite database for ``schema`` filled with deterministic synthetic rows."""
    rng = random.Random(f"{schema['db_id']}:{seed}")
    strings: list[str] = []
    numbers: list[float] = []
    for sql in sqls:
        s, n = literals(sql, schema)
        strings += s
        numbers += n
    strings, numbers = sorted(set(strings)), sorted(set(numbers))
    cols = schema["column_names_original"]
    types = schema["column_types"]
    pks = set(schema.get("primary_keys", []))
    pk_count = Counter(cols[i][0] for i in pks)
    fks = dict(schema.get("foreign_keys", []))
    values: dict[int, list[Any]] = {}
    for i, (t, name) in enumerate(cols):
        if t < 0 or i in fks:
            continue
        if i in pks and pk_count[t] == 1:  # a single-column key: unique values
            if types[i] == "number":  # literal ids first, so `WHERE id = 7` can find a row
                lits = [int(v) for v in numbers if float(v).is_integer()][: rows // 2]
                values[i] = (lits + [k for k in range(1, 2 * rows) if k not in lits])[:rows]
            else:
                values[i] = [f"{name[:12]} {k}" for k in range(1, rows + 1)]
        else:
            pool = _pool(types[i], name, strings, numbers, rng)
            values[i] = [rng.choice(pool) for _ in range(rows)]
    for _ in range(3):  # foreign keys may point at foreign keys
        for a, b in fks.items():
            source = values.get(b) or _pool(types[a], cols[a][1], strings, numbers, rng)
            values[a] = [rng.choice(source) for _ in range(rows)]
    conn = sqlite3.connect(":memory:")
    conn.executescript(schema_ddl(schema, constraints=False))
    for t, table in enumerate(schema["table_names_original"]):
        idx = [i for i, (ct, _) in enumerate(cols) if ct == t]
        if not idx or table.lower().startswith("sqlite_"):
            continue
        placeholders = ", ".join("?" for _ in idx)
        conn.executemany(
            f"INSERT INTO {quote(table)} VALUES ({placeholders})",
            [tuple(values[i][r] for i in idx) for r in range(rows)],
        )
    return conn


def extract_sql(text: str) -> str:
    """The SQL query in a model's answer: inside a code fence if any, from the first
    SELECT/WITH up to the first ``;`` or blank line."""
    fence = re.search(r"```(?:sql|sqlite)?\s*(.*?)```", text, re.DOTALL | re.IGNORECASE)
    body = fence.group(1) if fence else text
    m = _SQL_START.search(body)
    if m is None:
        return body.strip()
    body = body[m.start() :]
    body = re.split(r";|\n\s*\n", body, maxsplit=1)[0]
    return " ".join(body.split())


def normalize_sql(sql: str) -> str | None:
    """Canonical text of a query (sqlglot, SQLite dialect: keywords upper-case, identifiers
    lower-case, spacing and quoting uniform); None when it does not parse."""
    import sqlglot
    from sqlglot.optimizer.normalize_identifiers import normalize_identifiers

    try:
        tree = sqlglot.parse_one(sql, read="sqlite")
    except sqlglot.errors.ParseError:
        return None
    if tree is None:
        return None
    return normalize_identifiers(tree, dialect="sqlite").sql(dialect="sqlite", normalize=True)


def has_outer_order_by(sql: str) -> bool:
    """Whether the outermost query orders its rows."""
    import sqlglot

    try:
        tree = sqlglot.parse_one(sql, read="sqlite")
    except sqlglot.errors.ParseError:
        return bool(re.search(r"order\s+by", sql, re.IGNORECASE))
    return tree is not None and tree.args.get("order") is not None


def run_query(conn: sqlite3.Connection, sql: str, timeout_s: float = 2.0) -> list[tuple[Any, ...]]:
    """Rows of ``sql``; raises ``sqlite3.Error`` on failure or after ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    conn.set_progress_handler(lambda: int(time.monotonic() > deadline), 10_000)
    try:
        rows = conn.execute(sql).fetchall()
    finally:
        conn.set_progress_handler(None, 0)
    return [tuple(round(v, 6) if isinstance(v, float) else v for v in row) for row in rows]


def execution_match(
    gold: str, pred: str, schema: Schema, seeds: Sequence[int] = (0, 1, 2), rows: int = 12
) -> tuple[bool, str | None]:
    """Whether ``pred`` returns the same result as ``gold`` on every seed's database.

    Returns:
        (match, error): error is the prediction's SQLite error, if it failed to run.
    """
    ordered = has_outer_order_by(gold)
    for seed in seeds:
        conn = build_database(schema, seed, [gold, pred], rows)
        try:
            try:
                want = run_query(conn, gold)
            except (sqlite3.Error, sqlite3.Warning) as e:
                return False, f"gold query failed: {e}"
            try:
                got = run_query(conn, pred)
            except (sqlite3.Error, sqlite3.Warning) as e:
                return False, str(e)
        finally:
            conn.close()
        if (want != got) if ordered else (Counter(want) != Counter(got)):
            return False, None
    return True, None


def is_valid_sql(sql: str, schema: Schema) -> bool:
    """Parses with sqlglot and runs on the schema's (seed 0) database."""
    if not sql.strip() or normalize_sql(sql) is None:
        return False
    conn = build_database(schema, 0, [sql])
    try:
        run_query(conn, sql)
        return True
    except (sqlite3.Error, sqlite3.Warning):
        return False
    finally:
        conn.close()


@scorer("sql_exec", metrics=("exact_match", "valid_sql", "execution_match"))
class SqlScorer(Scorer):
    """Scores a predicted query against ``sample.target`` (the gold SQL) on the schema named by
    ``sample.metadata["db_id"]``.

    Per sample: ``exact_match`` (sqlglot-normalised text equal), ``valid_sql`` (parses and runs
    on the schema), ``execution_match`` (same results on every seed's database).

    Args:
        schemas: db_id to ``tables.json`` entry (a task fills this in when it loads its data).
        seeds: Databases per comparison.
        rows: Rows per table.
    """

    name = "sql"
    spec_exclude = ("schemas",)  # filled in by the task from its data

    def __init__(
        self,
        schemas: dict[str, Schema] | None = None,
        seeds: Sequence[int] = (0, 1, 2),
        rows: int = 12,
    ) -> None:
        super().__init__(seeds=list(seeds), rows=rows)
        self.schemas: dict[str, Schema] = dict(schemas or {})
        self.seeds = tuple(seeds)
        self.rows = rows

    def __call__(self, sample: Sample, output: Output) -> Score:
        schema = self.schemas[sample.metadata["db_id"]]
        pred = extract_sql(output.text)
        gold = str(sample.target)
        norm = normalize_sql(pred) if pred else None
        exact = norm is not None and norm == normalize_sql(gold)
        valid = norm is not None and is_valid_sql(pred, schema)
        match, error = (
            execution_match(gold, pred, schema, self.seeds, self.rows) if valid else (False, None)
        )
        return Score(
            values={
                "exact_match": float(exact),
                "valid_sql": float(valid),
                "execution_match": float(match),
            },
            answer=pred,
            explanation=error,
        )
