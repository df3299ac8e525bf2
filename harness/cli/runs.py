"""``harness runs``: list stored runs with filters; ``show``, ``diff`` and ``rm`` one or two.

Every subcommand reads the runs folder (``-o``, else $HARNESS_RUNS_DIR or ./runs) and takes a
run id, a unique prefix of one, or a run folder.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import shutil
import sys
from pathlib import Path
from typing import Any

import click

from harness.cli._common import resolve_runs_dir, runs_dir_option

KEY_METRICS = 2
SHOW_SAMPLES = 3


def _age(created: dt.datetime, now: dt.datetime) -> str:
    s = max(0, int((now - created).total_seconds()))
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if s >= size:
            return f"{s // size}{unit}"
    return f"{s}s"


def _metrics(record: Any, k: int = KEY_METRICS) -> str:
    items = list(record.metrics.items())[:k]
    return ", ".join(f"{n}={'nan' if m.value is None else f'{m.value:.3f}'}" for n, m in items)


def system_prompt_text(record: Any, words: int = 6) -> str:
    """``sha256:1a2b3c4d "You are a careful…"`` for a run's --system-prompt (``words=0``: the
    hash alone); "-" without one."""
    text = record.generation.system_prompt
    if not text:
        return "-"
    sha = hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:8]
    if words == 0:
        return f"sha256:{sha}"
    head = text.split()
    first = " ".join(head[:words]) + ("…" if len(head) > words else "")
    return f'sha256:{sha} "{first}"'


def settings_text(record: Any) -> str:
    """The settings that tell two runs of one task apart, on one line (`runs` list)."""
    fp = record.fingerprint
    g = record.generation
    parts = [
        f"fp={fp.digest if fp else '-'}",
        f"sys={system_prompt_text(record, 0)}",
        f"chat={'on' if record.model.chat_template else 'off'}",
        f"T={g.temperature:g}",
        f"max={g.max_new_tokens}",
    ]
    return " ".join(parts)


COLUMNS = ("run", "task", "model", "adapter", "n", "status", "settings", "metrics", "age")


def _row(e: Any, now: dt.datetime) -> dict[str, str]:
    r = e.record
    return {
        "run": e.path.name,
        "task": r.task.name,
        "model": r.model.id,
        "adapter": e.adapter or "-",
        "n": str(r.dataset.n_evaluated),
        "status": r.status,
        "settings": settings_text(r),
        "metrics": _metrics(r),
        "age": _age(e.created, now),
    }


def _json_row(e: Any) -> dict[str, Any]:
    r = e.record
    return {
        "run": e.path.name,
        "path": str(e.path),
        "task": r.task.name,
        "model": r.model.id,
        "adapter": e.adapter,
        "n": r.dataset.n_evaluated,
        "status": r.status,
        "created_at": r.created_at,
        "group_id": r.group_id,
        "fingerprint": r.fingerprint.model_dump(mode="json") if r.fingerprint else None,
        "system_prompt": r.generation.system_prompt,
        "chat_template": r.model.chat_template,
        "generation": r.generation.model_dump(mode="json"),
        "metrics": {k: m.model_dump(mode="json") for k, m in r.metrics.items()},
    }


def _tsv(value: str) -> str:
    return value.replace("\t", " ").replace("\n", " ")


@click.group("runs", invoke_without_command=True)
@click.option("--task", default=None, help="Only runs whose task name contains this.")
@click.option("--model", default=None, help="Only runs whose model id contains this.")
@click.option("--adapter", default=None, help="Only runs of this adapter ('base': no adapter).")
@click.option("--since", default=None, help="Only runs newer than an age (12h, 7d) or a date.")
@click.option(
    "--status", type=click.Choice(["complete", "incomplete"]), default=None, help="Run status."
)
@click.option("--json", "as_json", is_flag=True, help="One JSON list of the runs on stdout.")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["table", "tsv"]),
    default="table",
    show_default=True,
    help="tsv: a header line and one tab-separated line per run, values in full.",
)
@runs_dir_option
@click.pass_context
def runs_cmd(
    ctx: click.Context,
    output_dir: Path | None,
    since: str | None,
    as_json: bool,
    fmt: str,
    **flt: Any,
) -> None:
    """List runs (task, model, adapter, n, status, settings, key metrics, age), newest first.

    Piped (not a terminal), the table keeps every value whole: nothing is cut to fit.
    """
    ctx.obj = resolve_runs_dir(output_dir)
    if ctx.invoked_subcommand is not None:
        return
    from harness.runstore import RunFilter, list_runs, parse_since

    keep = RunFilter(since=parse_since(since) if since else None, **flt)
    entries, problems = list_runs(ctx.obj)
    shown = [e for e in entries if keep.keep(e)]
    now = dt.datetime.now(dt.timezone.utc)
    if as_json:
        click.echo(json.dumps([_json_row(e) for e in shown], indent=2))
    elif fmt == "tsv":
        click.echo("\t".join(COLUMNS))
        for e in shown:
            click.echo("\t".join(_tsv(v) for v in _row(e, now).values()))
    else:
        _print_table(
            [_row(e, now) for e in shown], f"{len(shown)} of {len(entries)} runs in {ctx.obj}"
        )
    for p in problems:
        click.echo(f"skipped {p}", err=True)


def _print_table(rows: list[dict[str, str]], title: str) -> None:
    """A rich table; on a terminal it fits the width, piped it is as wide as its values."""
    from rich.console import Console
    from rich.table import Table

    table = Table(title=title)
    # The run id is what `show`, `diff` and `rm` take: it never wraps or shrinks.
    table.add_column("run", no_wrap=True, min_width=max((len(r["run"]) for r in rows), default=3))
    for col in COLUMNS[1:]:
        table.add_column(col, justify="right" if col in ("n", "age") else "left")
    for r in rows:
        table.add_row(*r.values())
    console = Console()
    if not sys.stdout.isatty():  # a file or a pipe: full values, no ellipsis
        widths = [max([len(c), *(len(r[c]) for r in rows)]) for c in COLUMNS]
        console = Console(width=max(80, sum(widths) + 3 * len(widths) + 1, len(title)))
    console.print(table)


@runs_cmd.command("show")
@click.argument("run")
@click.option("--samples", "n", type=click.IntRange(min=0), default=SHOW_SAMPLES)
@click.option("--full-prompt", is_flag=True, help="Print each shown item's whole rendered prompt.")
@click.pass_obj
def show(root: Path, run: str, n: int, full_prompt: bool) -> None:
    """Print a run's record and its first samples."""
    from harness.runstore import find_run, load_run

    loaded = load_run(find_run(run, root))
    r = loaded.record
    click.echo(f"run      {loaded.path}")
    click.echo(f"task     {r.task.name} {r.task.params or ''}".rstrip())
    click.echo(f"model    {r.model.id}" + (f" + {loaded.adapter}" if loaded.adapter else ""))
    click.echo(f"status   {r.status} · n={r.dataset.n_evaluated} of {r.dataset.n_total}")
    click.echo(f"created  {r.created_at} · group {r.group_id}")
    click.echo(f"system   {system_prompt_text(r, 12)}")
    click.echo(f"chat     template {'on' if r.model.chat_template else 'off'}")
    g = r.generation
    click.echo(
        f"generate max_new_tokens={g.max_new_tokens} temperature={g.temperature:g} "
        f"top_p={g.top_p:g} n={g.n} seed={g.seed} stop={json.dumps(g.stop)}"
    )
    for key, value in (r.fingerprint.model_dump(mode="json") if r.fingerprint else {}).items():
        text = value if isinstance(value, str) else json.dumps(value, sort_keys=True)
        click.echo(f"  fingerprint.{key:<17} {text}")
    u = r.usage
    click.echo(f"tokens   {u.model_tokens_in} in, {u.model_tokens_out} out")
    for name, m in r.metrics.items():
        value = "nan" if m.value is None else f"{m.value:.4f}"
        ci = f" [{m.ci_low:.3f}, {m.ci_high:.3f}]" if m.ci_low is not None else ""
        click.echo(f"  {name:<28} {value}{ci}")
    for line in _prompting_lines(r):
        click.echo(line)
    for s in loaded.samples[:n]:
        click.echo(f"--- {s.id}")
        shown = json.dumps(s.prompt, ensure_ascii=False) if full_prompt else None
        click.echo(f"prompt:  {shown or _prompt_line(s.prompt)}")
        if s.reasoning and s.reasoning[0] is not None:
            click.echo(f"thinking: {_one_line(s.reasoning[0])}")
        click.echo(f"output:  {_one_line(s.outputs[0] if s.outputs else '')}")
        click.echo(f"target:  {_one_line(str(s.target))}")
        for scorer, sc in s.scores.items():
            click.echo(f"{scorer}: {sc.values}" + (f" answer={sc.answer!r}" if sc.answer else ""))
        for err in s.errors:
            click.echo(f"error:   {err}")


def _prompting_lines(r: Any) -> list[str]:
    """How the prompts were shaped and outputs split, when the run says."""
    lines = []
    p = r.prompting
    if p is not None:
        kwargs = json.dumps(p.chat_template_kwargs) if p.chat_template_kwargs else "none"
        lines.append(
            f"prompts  chat_template_kwargs {kwargs} · fewshot_as_multiturn "
            f"{str(p.fewshot_as_multiturn).lower()} · truncate_prompt {p.truncate_prompt or 'no'}"
            + (" · system merged into the first user turn" if p.system_merged else "")
            + (f" · {len(p.too_long_ids)} too long" if p.too_long_ids else "")
            + (f" · {len(p.truncated_ids)} cut from the left" if p.truncated_ids else "")
        )
    if r.reasoning is not None:
        markers = ",".join(r.reasoning.markers) if r.reasoning.markers else "none"
        lines.append(
            f"thinking markers {markers} ({r.reasoning.source}) · {r.reasoning.truncated} of "
            f"{r.reasoning.completions} truncated"
        )
    return lines


def _prompt_line(prompt: Any, width: int = 240) -> str:
    """The rendered prompt on one line: its start and its end (where a template's generation
    prompt and switches show); chat messages as their roles, then the last turn."""
    if isinstance(prompt, list):
        roles = ", ".join(str(m.get("role")) for m in prompt)
        last = str(prompt[-1].get("content", "")) if prompt else ""
        return f"[{len(prompt)} turns: {roles}] " + _ends(repr(last), width)
    return _ends(repr(str(prompt)), width)


def _ends(text: str, width: int) -> str:
    if len(text) <= width:
        return text
    half = (width - 3) // 2
    return f"{text[:half]} … {text[-half:]}"


def _one_line(text: str, width: int = 160) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= width else flat[: width - 1] + "…"


@runs_cmd.command("diff")
@click.argument("run_a")
@click.argument("run_b")
@click.option("--metric", default=None, help="Metric to compare (default: the first shared).")
@click.option("--show", "limit", type=click.IntRange(min=0), default=20, help="Items to list.")
@click.pass_obj
def diff(root: Path, run_a: str, run_b: str, metric: str | None, limit: int) -> None:
    """Paired item-level differences between two runs of one task."""
    from harness.runstore import diff_runs, find_run

    d = diff_runs(find_run(run_a, root), find_run(run_b, root), metric)
    b_better = sum(1 for i in d.items if i.better == "b")

    def fmt(v: float | None) -> str:
        return "nan" if v is None else f"{v:.4f}"

    click.echo(
        f"{d.metric}: A {fmt(d.mean_a)} · B {fmt(d.mean_b)} · {d.paired} paired items, "
        f"{d.same} equal, {b_better} better in B, {len(d.items) - b_better} better in A"
    )
    for item in d.items[:limit]:
        click.echo(f"{item.id}  A={fmt(item.a)} B={fmt(item.b)}  ({item.better.upper()} better)")
        click.echo(f"    A: {_one_line(item.a_output, 120)}")
        click.echo(f"    B: {_one_line(item.b_output, 120)}")
    if len(d.items) > limit:
        click.echo(f"... {len(d.items) - limit} more (--show N)")


@runs_cmd.command("rm")
@click.argument("runs", nargs=-1, required=True)
@click.option("--yes", "-y", is_flag=True, help="Delete without asking.")
@click.pass_obj
def rm(root: Path, runs: tuple[str, ...], yes: bool) -> None:
    """Delete run folders (asks first unless --yes)."""
    from harness.runstore import find_run

    folders = [find_run(r, root) for r in runs]  # every id resolves before anything goes
    for f in folders:
        click.echo(f"  {f}")
    if not yes and not click.confirm(f"delete these {len(folders)} run folder(s)?"):
        click.echo("nothing deleted")
        return
    for f in folders:
        shutil.rmtree(f)
    click.echo(f"deleted {len(folders)} run folder(s)")
