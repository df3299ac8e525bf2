"""``harness view [RUNS...]``: browse runs in a local web page on 127.0.0.1 (Ctrl-C stops)."""

from __future__ import annotations

from pathlib import Path

import click

from harness.cli._common import resolve_runs_dir, runs_dir_option


@click.command("view")
@click.argument("runs", nargs=-1, type=click.Path(path_type=Path))
@click.option("--port", type=click.IntRange(0, 65535), default=7860, show_default=True)
@runs_dir_option
def view(runs: tuple[Path, ...], port: int, output_dir: Path | None) -> None:
    """Serve the runs (folders of runs or run folders; default the runs folder) as a web page."""
    from harness._errors import HarnessError
    from harness.view import make_server

    roots = list(runs) or [resolve_runs_dir(output_dir)]
    missing = [str(p) for p in roots if not p.is_dir()]
    if missing:
        raise HarnessError(f"{', '.join(missing)}: no such folder; pass folders holding runs")
    try:
        server = make_server(roots, port)
    except OSError as e:
        raise HarnessError(f"port {port} is not free ({e.strerror}); pass --port N") from None
    click.echo(f"harness view: http://127.0.0.1:{server.server_port}/ (Ctrl-C stops)")
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        click.echo("stopped")
    finally:
        server.server_close()
