"""SQL metrics on real Spider schemas: normalisation, extraction, synthetic databases and
execution match (equal queries written differently match; a wrong WHERE does not)."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from harness.metrics.sql import (
    build_database,
    execution_match,
    extract_sql,
    has_outer_order_by,
    is_valid_sql,
    literals,
    normalize_sql,
    run_query,
    schema_ddl,
)


@pytest.fixture(scope="module")
def schemas(data_dir: Path) -> dict:
    return {s["db_id"]: s for s in json.loads((data_dir / "spider" / "tables.json").read_text())}


GOLD = "SELECT count(*) FROM singer WHERE age > 20"


@pytest.mark.parametrize(
    "pred",
    [
        "select COUNT(Singer_ID) from SINGER as s where 20 < s.Age",
        "SELECT count(*) FROM singer WHERE age >= 21",
        "SELECT count(*) FROM (SELECT * FROM singer WHERE NOT age <= 20)",
    ],
)
def test_equal_queries_written_differently_match(schemas, pred: str) -> None:
    assert execution_match(GOLD, pred, schemas["concert_singer"]) == (True, None)


@pytest.mark.parametrize(
    "pred",
    [
        "SELECT count(*) FROM singer WHERE age > 30",
        "SELECT count(*) FROM singer WHERE age < 20",
        "SELECT count(*) FROM singer WHERE country = 'France'",
    ],
)
def test_wrong_where_clause_does_not_match(schemas, pred: str) -> None:
    assert execution_match(GOLD, pred, schemas["concert_singer"]) == (False, None)


def test_join_written_as_implicit_join_matches_and_wrong_year_does_not(schemas) -> None:
    gold = (
        "SELECT T2.name FROM singer_in_concert AS T1 JOIN singer AS T2 ON T1.singer_id = "
        "T2.singer_id JOIN concert AS T3 ON T1.concert_id = T3.concert_id WHERE T3.year = 2014"
    )
    implicit = (
        "SELECT singer.Name FROM singer, singer_in_concert, concert WHERE singer.Singer_ID = "
        "singer_in_concert.Singer_ID AND concert.concert_ID = singer_in_concert.concert_ID "
        "AND concert.Year = 2014"
    )
    cs = schemas["concert_singer"]
    assert execution_match(gold, implicit, cs)[0]
    assert not execution_match(gold, implicit.replace("2014", "2015"), cs)[0]
    conn = build_database(cs, 0, [gold])
    assert run_query(conn, gold), "the synthetic rows must make the join non-empty"


def test_order_matters_only_when_gold_orders(schemas) -> None:
    cs = schemas["concert_singer"]
    assert not execution_match(
        "SELECT name FROM singer ORDER BY age DESC", "SELECT name FROM singer ORDER BY age ASC", cs
    )[0]
    assert execution_match("SELECT name FROM singer", "SELECT name FROM singer ORDER BY age", cs)[0]
    assert has_outer_order_by("SELECT a FROM t ORDER BY a") and not has_outer_order_by(
        "SELECT a FROM (SELECT a FROM t ORDER BY a)"
    )


def test_prediction_errors_are_reported(schemas) -> None:
    match, error = execution_match(GOLD, "SELECT nope FROM singer", schemas["concert_singer"])
    assert not match and "no such column" in error
    assert not is_valid_sql("SELECT nope FROM singer", schemas["concert_singer"])
    assert not is_valid_sql("SELEC name FROM", schemas["concert_singer"])
    assert is_valid_sql("SELECT name FROM singer", schemas["concert_singer"])


def test_databases_are_deterministic_and_differ_by_seed(schemas) -> None:
    cs = schemas["concert_singer"]
    dump = lambda seed: list(build_database(cs, seed, [GOLD]).iterdump())  # noqa: E731
    assert dump(0) == dump(0)
    assert dump(0) != dump(1)


def test_every_dev_gold_query_runs_on_its_synthetic_database(data_dir: Path, schemas) -> None:
    dev = json.loads((data_dir / "spider" / "dev.json").read_text())
    failures = []
    for q in dev[::4]:
        conn = build_database(schemas[q["db_id"]], 0, [q["query"]])
        try:
            run_query(conn, q["query"])
        except sqlite3.Error as e:
            failures.append((q["query"], str(e)))
    assert failures == []


def test_normalize_and_extract() -> None:
    assert normalize_sql("select  T1.Name from SINGER as t1 where T1.age>20;") == normalize_sql(
        "SELECT t1.name FROM singer AS T1 WHERE t1.Age > 20"
    )
    assert normalize_sql("SELECT name FROM singer WHERE age > 21") != normalize_sql(GOLD)
    assert normalize_sql("SELECT FROM WHERE (") is None
    assert extract_sql("Here:\n```sql\nSELECT a FROM b;\n```") == "SELECT a FROM b"
    assert (
        extract_sql(" SELECT name\n FROM singer\n\nThis lists names.") == "SELECT name FROM singer"
    )


def test_literals_and_ddl(schemas) -> None:
    cs = schemas["concert_singer"]
    strings, numbers = literals(
        "SELECT name FROM singer WHERE country = \"France\" AND name LIKE '%Jo_n%' "
        "AND age > 20.5 AND \"Name\" = 'x'",
        cs,
    )
    assert strings == ["France", "x", "xJoanx"] and numbers == [20.5]
    ddl = schema_ddl(cs)
    assert ddl.count("CREATE TABLE") == 4
    assert "FOREIGN KEY (Singer_ID) REFERENCES singer(Singer_ID)" in ddl
    sqlite3.connect(":memory:").executescript(ddl)  # the prompt DDL is valid SQLite
