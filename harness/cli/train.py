"""``harness train``: fine-tune a LoRA adapter (or the whole model) with a recipe, optionally
evaluate it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from harness.cli._tracking import log_to_option, tracker_specs


@click.command("train")
@click.option(
    "--task", "task_name", help="Train on this task's train split (its eval-time prompt)."
)
@click.option(
    "--data", type=click.Path(path_type=Path), help="Or a JSONL file: alpaca or chat rows."
)
@click.option("--model", default=None, help="Base model: bundled name, folder or hub id [bundled].")
@click.option(
    "--recipe", default="cpu", show_default=True, help="Recipe YAML file or shipped name."
)
@click.option(
    "--out", required=True, type=click.Path(path_type=Path), help="Adapter folder to write."
)
@click.option(
    "--data-dir", type=click.Path(path_type=Path), help="Dataset root [$HARNESS_DATA_DIR]."
)
@click.option("--no-resume", is_flag=True, help="Start over even if out/checkpoints exists.")
@click.option(
    "--eval", "evaluate", is_flag=True, help="Then evaluate base and adapter on the test split."
)
@click.option("--limit", type=int, default=100, show_default=True, help="Test items for --eval.")
@click.option(
    "--num-processes",
    type=click.IntRange(min=1),
    default=1,
    show_default=True,
    help="Train on N processes under accelerate (one per GPU; gloo on CPU); the recipe's "
    "distributed.strategy picks DDP, FSDP or DeepSpeed.",
)
@log_to_option
@click.argument("overrides", nargs=-1)
def train(
    task_name: str | None,
    data: Path | None,
    model: str | None,
    recipe: str,
    out: Path,
    data_dir: Path | None,
    no_resume: bool,
    evaluate: bool,
    limit: int,
    num_processes: int,
    log_to: tuple[str, ...],
    overrides: tuple[str, ...],
) -> None:
    """Train a LoRA adapter or a full model; OVERRIDES are recipe key=value pairs (lora.r=16)."""
    from adapters.distributed import check_strategy, is_main_process, needs_launcher
    from adapters.recipe import load_recipe, recipe_path
    from adapters.train import TrainRequest
    from adapters.train import train as run_training
    from harness._errors import HarnessError

    if evaluate and not task_name:
        raise HarnessError("--eval needs --task (the task whose test split is scored)")
    parsed = load_recipe(recipe, list(overrides))  # a bad recipe fails before any launch
    trackers = tracker_specs(log_to)
    source = str(recipe_path(recipe)) + (f" {' '.join(overrides)}" if overrides else "")
    request = TrainRequest(
        out=out,
        recipe=parsed,
        recipe_source=source,
        model=model,
        task=task_name,
        data=data,
        data_dir=data_dir,
        resume=not no_resume,
    )
    launched = needs_launcher(parsed, num_processes)
    if launched:
        check_strategy(parsed)  # here, not in each of N processes
        _launch(num_processes, request, recipe, overrides)  # its rank 0 reports the adapter
        folder = out
    else:
        folder = run_training(request)
    if not is_main_process():
        return  # rank 0 reports and evaluates
    full = parsed.method == "full"
    if not launched and full:
        click.echo(f"model written to {folder} (evaluate it: harness run --model {folder})")
    elif not launched:
        click.echo(f"adapter written to {folder} (registered as {folder.name!r})")
    eval_folders: list[Path] = []
    if evaluate:
        from adapters.compare import compare_base_and_adapter

        assert task_name is not None
        compared = compare_base_and_adapter(
            task_name, model, folder, limit=limit, data_dir=data_dir, full_model=full
        )
        click.echo(compared.text)
        eval_folders = compared.folders
    if trackers:
        from harness.tracking import log_training

        log_training(trackers, folder, eval_folders)


def _launch(num_processes: int, req: Any, recipe: str, overrides: tuple[str, ...]) -> None:
    """Runs this training (without ``--eval``: this process evaluates afterwards) on N
    processes under accelerate."""
    from adapters.distributed import launch
    from harness import resolve_model
    from harness._errors import HarnessError

    resolve_model(req.model)  # converted/hashed once here, not raced by every rank

    argv = ["train", "--out", str(req.out), "--recipe", recipe]
    for flag, value in [
        ("--task", req.task),
        ("--data", req.data),
        ("--model", req.model),
        ("--data-dir", req.data_dir),
    ]:
        argv += [flag, str(value)] if value is not None else []
    argv += [] if req.resume else ["--no-resume"]
    argv += list(overrides)
    out = req.out
    how = f"{req.recipe.distributed.strategy}, " + (
        "under accelerate" if num_processes > 1 else "a one-process torchrun world"
    )
    click.echo(f"launching {num_processes} training process(es) ({how})", err=True)
    code = launch(num_processes, argv)
    if code != 0:
        raise HarnessError(
            f"the {num_processes}-process training failed (exit {code}; its output is above); "
            f"checkpoints in {out}/checkpoints are resumed by the same command"
        )
