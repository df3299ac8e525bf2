"""``harness cache``: what the request cache holds, and pruning or clearing it.

``harness cache`` (or ``harness cache show``) lists entries and bytes per model and backend;
``harness cache prune --older-than 30d`` deletes entries written before then; ``harness cache
clear`` deletes everything (after a confirmation, or with ``--yes``). ``--cache PATH`` picks
the file, as for ``harness run``. A missing cache file is reported, never created.
"""

from __future__ import annotations

import datetime as dt
import functools
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from harness._errors import HarnessError

UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_age(text: str) -> float:
    """``30d``, ``12h``, ``90m``, ``45s`` (a number and one unit) as seconds.

    Raises:
        HarnessError: Not of that form.
    """
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([smhd])\s*", text)
    if match is None:
        raise HarnessError(
            f"--older-than {text!r}: expected a number and a unit, s, m, h or d (e.g. 30d, 12h)"
        )
    return float(match[1]) * UNITS[match[2]]


def _cache_option(fn: Callable[..., Any]) -> Callable[..., Any]:
    @click.option(
        "--cache",
        "cache_path",
        type=click.Path(path_type=Path, dir_okay=False),
        default=None,
        help="Request cache file (default: $HARNESS_CACHE or ~/.cache/harness/requests.sqlite).",
    )
    @functools.wraps(fn)
    def wrapper(*args: Any, cache_path: Path | None, **kwargs: Any) -> Any:
        from harness._cache import default_cache_path

        return fn(*args, path=cache_path or default_cache_path(), **kwargs)

    return wrapper


def _open(path: Path) -> Any:
    """The cache at ``path``, or None (after saying so) when there is no such file."""
    from harness._cache import RequestCache

    if not path.is_file():
        click.echo(f"no request cache at {path} (nothing cached yet)")
        return None
    return RequestCache(path)


@click.group("cache", invoke_without_command=True)
@_cache_option
@click.pass_context
def cache_cmd(ctx: click.Context, path: Path) -> None:
    """Show the request cache by model and backend; prune or clear it."""
    if ctx.invoked_subcommand is None:
        _show(path)


@cache_cmd.command("show")
@_cache_option
def show(path: Path) -> None:
    """Entries and size per model and backend."""
    _show(path)


@cache_cmd.command("prune")
@click.option("--older-than", required=True, help="Age: a number and s, m, h or d (e.g. 30d).")
@_cache_option
def prune(older_than: str, path: Path) -> None:
    """Delete entries written longer ago than --older-than."""
    seconds = parse_age(older_than)
    cache = _open(path)
    if cache is None:
        return
    removed = cache.prune(seconds)
    click.echo(f"pruned {removed} entries older than {older_than} from {path} ({len(cache)} left)")
    cache.close()


@cache_cmd.command("clear")
@click.option("--yes", "-y", is_flag=True, help="Do not ask for confirmation.")
@_cache_option
def clear(yes: bool, path: Path) -> None:
    """Delete every entry."""
    cache = _open(path)
    if cache is None:
        return
    n = len(cache)
    if not yes and not click.confirm(f"delete all {n} entries in {path}?"):
        click.echo("nothing deleted")
        cache.close()
        return
    removed = cache.clear()
    click.echo(f"cleared {removed} entries from {path}")
    cache.close()


def _show(path: Path) -> None:
    cache = _open(path)
    if cache is None:
        return
    groups = cache.groups()
    total = sum(g.entries for g in groups)
    wal = path.with_name(path.name + "-wal")
    disk = path.stat().st_size + (wal.stat().st_size if wal.is_file() else 0)
    click.echo(f"{path}: {total} entries, {_size(disk)} on disk")
    rows = [("entries", "size", "newest", "backend", "model")] + [
        (
            str(g.entries),
            _size(g.size),
            _when(g.newest),
            g.backend or "?",
            g.model or "? (written before entries recorded their model, or by a judge)",
        )
        for g in groups
    ]
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    for r in rows:
        cells = [r[0].rjust(widths[0]), r[1].rjust(widths[1])]
        cells += [r[2].ljust(widths[2]), r[3].ljust(widths[3]), r[4]]
        click.echo("  " + "  ".join(cells))
    cache.close()


def _size(n: int) -> str:
    value = float(n)
    for unit in ("B", "KiB", "MiB"):
        if value < 1024:
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} GiB"


def _when(julian_day: float | None) -> str:
    if julian_day is None:
        return "?"
    stamp = dt.datetime.fromtimestamp((julian_day - 2440587.5) * 86400, dt.timezone.utc)
    return stamp.isoformat(timespec="seconds")
