"""``harness cache``: show by model and backend, prune by age, clear; old files migrate.

Whole outputs, through the real entry point, on caches written by real fake-backend runs.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from _cli_helpers import TERMINAL, invoke, normalise
from click.testing import CliRunner, Result

from harness import RequestCache
from harness.cli import cli


@pytest.fixture
def cache(tmp_path: Path, run_args: list[str], adapter: Path) -> Path:
    """A cache holding one run of the base model and the ``tuned`` adapter (3 items each)."""
    assert invoke([*run_args, "--base", "--adapter", str(adapter)]).exit_code == 0
    return tmp_path / "cache.sqlite"


def _show(tmp_path: Path, path: Path, *args: str) -> str:
    result = invoke(["cache", *args, "--cache", str(path)])
    assert result.exit_code == 0, result.stderr
    text = normalise(result.stdout, tmp_path)
    return "\n".join(
        line.split(": ", 1)[0] + ": <n> entries, <size> on disk" if " on disk" in line else line
        for line in text.split("\n")
    )


SHOWN = """\
<tmp>/cache.sqlite: <n> entries, <size> on disk
  entries   size  newest                     backend  model
        3  539 B  <time>  fake     fake:answers
        3  496 B  <time>  fake     fake:answers + tuned
"""


def test_show_groups_entries_by_model_and_backend(tmp_path: Path, cache: Path) -> None:
    assert _show(tmp_path, cache) == SHOWN
    assert _show(tmp_path, cache, "show") == SHOWN
    first = invoke(["cache", "--cache", str(cache)]).stdout.split("\n")[0]
    assert first.startswith(f"{cache}: 6 entries, ") and first.endswith(" KiB on disk")


def test_prune_deletes_only_entries_older_than_the_age(tmp_path: Path, cache: Path) -> None:
    db = sqlite3.connect(cache)
    db.execute("UPDATE requests SET created = julianday('now') - 40 WHERE model = 'fake:answers'")
    db.commit()
    db.close()
    result = invoke(["cache", "prune", "--older-than", "30d", "--cache", str(cache)])
    assert result.exit_code == 0
    assert result.stdout == f"pruned 3 entries older than 30d from {cache} (3 left)\n"
    again = invoke(["cache", "prune", "--older-than", "720h", "--cache", str(cache)])
    assert again.stdout == f"pruned 0 entries older than 720h from {cache} (3 left)\n"
    assert "fake:answers + tuned" in _show(tmp_path, cache)
    assert "fake:answers\n" not in _show(tmp_path, cache)


@pytest.mark.parametrize("age", ["30", "30y", "-1d", "d", "1.5.2h"])
def test_a_bad_age_is_one_line_and_exit_2(cache: Path, age: str) -> None:
    result = invoke(["cache", "prune", "--older-than", age, "--cache", str(cache)])
    assert result.exit_code == 2
    assert result.stderr == (
        f"error: --older-than {age!r}: expected a number and a unit, s, m, h or d (e.g. 30d, 12h)\n"
    )
    assert len(RequestCache(cache)) == 6


def test_clear_asks_first_unless_yes(cache: Path) -> None:
    no = invoke_with_input(["cache", "clear", "--cache", str(cache)], "n\n")
    assert no.stdout == f"delete all 6 entries in {cache}? [y/N]: n\nnothing deleted\n"
    assert len(RequestCache(cache)) == 6
    yes = invoke(["cache", "clear", "--yes", "--cache", str(cache)])
    assert yes.exit_code == 0 and yes.stdout == f"cleared 6 entries from {cache}\n"
    assert len(RequestCache(cache)) == 0


def test_a_missing_cache_is_reported_not_created(tmp_path: Path) -> None:
    path = tmp_path / "none.sqlite"
    for args in (["cache"], ["cache", "clear", "--yes"], ["cache", "prune", "--older-than", "1d"]):
        result = invoke([*args, "--cache", str(path)])
        assert result.exit_code == 0
        assert result.stdout == f"no request cache at {path} (nothing cached yet)\n"
    assert not path.exists()


OLD_LAYOUTS = [
    "key TEXT PRIMARY KEY, value TEXT NOT NULL",
    "key TEXT PRIMARY KEY, value TEXT NOT NULL, created REAL DEFAULT (julianday('now'))",
]


@pytest.mark.parametrize("columns", OLD_LAYOUTS)
def test_old_cache_files_migrate_and_keep_serving(
    tmp_path: Path, run_args: list[str], columns: str
) -> None:
    """A cache written by an older harness: its rows keep answering, get a creation time
    (the migration's), show as 'not recorded', and prune by age like the rest."""
    path = tmp_path / "cache.sqlite"
    assert invoke(run_args).exit_code == 0  # 3 answers, new layout
    rows = sqlite3.connect(path).execute("SELECT key, value FROM requests").fetchall()
    path.unlink()
    old = sqlite3.connect(path)
    old.execute(f"CREATE TABLE requests ({columns})")
    old.executemany("INSERT INTO requests (key, value) VALUES (?, ?)", rows)
    old.commit()
    old.close()
    rerun = invoke(run_args)
    assert rerun.exit_code == 0 and "0 model calls, 3 cached" in rerun.stdout
    assert (
        _show(tmp_path, path)
        .split("\n")[2]
        .endswith("  ?        ? (written before entries recorded their model, or by a judge)")
    )
    pruned = invoke(["cache", "prune", "--older-than", "1h", "--cache", str(path)])
    assert pruned.stdout == f"pruned 0 entries older than 1h from {path} (3 left)\n"


def invoke_with_input(args: list[str], text: str) -> Result:
    """`invoke` with ``text`` on standard input (answers to a confirmation)."""
    return CliRunner(env=TERMINAL).invoke(cli, args, input=text, catch_exceptions=False)
