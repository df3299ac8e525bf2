"""``harness serve start|status|stop``: keep a judge (or model) vLLM server warm on 127.0.0.1."""

from __future__ import annotations

import time

import click


@click.group("serve")
def serve() -> None:
    """Keep a vLLM server warm between commands (stopped after an idle timeout)."""


@serve.command("start")
@click.option(
    "--model", default=None, help="Model folder, bundled name or hub id (default: bundled)."
)
@click.option(
    "--adapter",
    "-a",
    "adapters",
    multiple=True,
    help="LoRA adapter folder or registered name to serve too (repeatable); "
    "`--backend vllm-server` runs with these adapters reuse the server.",
)
@click.option("--dtype", default=None, help="Weights dtype (default: the run-wide rule).")
@click.option(
    "--idle-timeout",
    type=click.FloatRange(min=1.0),
    default=1800.0,
    show_default=True,
    help="Seconds without use after which the server stops.",
)
@click.option("--max-model-len", type=click.IntRange(min=256), default=4096, show_default=True)
@click.option("--kv-cache-gib", type=click.IntRange(min=1), default=1, show_default=True)
def start(
    model: str | None,
    adapters: tuple[str, ...],
    dtype: str | None,
    idle_timeout: float,
    max_model_len: int,
    kv_cache_gib: int,
) -> None:
    """Start a warm server; `--judge local` runs for the same model, and `--backend
    vllm-server` runs with the same model, settings and adapters, reuse it."""
    from harness import resolve_model
    from harness.backends.vllm_server import ServerConfig
    from harness.lora import load_adapter
    from harness.serve import find_serving, start_warm

    resolved = resolve_model(model)
    specs = tuple(load_adapter(a) for a in adapters)  # a bad adapter fails before the server
    name = "judge-" + resolved.path.name + "".join(f"+{a.name}" for a in specs)
    cfg = ServerConfig(str(resolved.path), name, specs, dtype, max_model_len, kv_cache_gib)
    found = find_serving(cfg)
    if found is None:
        served = tuple((a.name, str(a.path)) for a in specs)
        found = start_warm(
            str(resolved.path), name, idle_timeout, max_model_len, kv_cache_gib, served, dtype
        )
        click.echo(f"started {found.name} at {found.base_url} (pid {found.pid})")
    else:
        click.echo(f"already warm: {found.name} at {found.base_url} (pid {found.pid})")


@serve.command("status")
def status() -> None:
    """List the warm servers and when each stops if unused."""
    from harness.serve import last_used, warm_servers

    servers = warm_servers()
    if not servers:
        click.echo("no warm servers")
    for s in servers:
        left = s.idle_timeout - (time.time() - last_used(s))
        click.echo(
            f"{s.name}  {s.base_url}  pid {s.pid}  model {s.model}  max_model_len "
            f"{s.max_model_len}  stops in {max(0, left):.0f} s if unused"
        )


@serve.command("stop")
@click.argument("name", required=False)
def stop(name: str | None) -> None:
    """Stop the warm server NAME (default: all of them)."""
    from harness import HarnessError
    from harness.serve import stop_warm, warm_servers

    servers = [s for s in warm_servers() if name in (None, s.name)]
    if name and not servers:
        names = ", ".join(s.name for s in warm_servers()) or "none"
        raise HarnessError(f"no warm server named {name!r} (running: {names})")
    for s in servers:
        stop_warm(s)
        click.echo(f"stopped {s.name}")
