"""Tasks: a dataset, a prompt format, generation defaults and scorers, under one name.

A task is declared as a factory decorated with `@task`; its keyword arguments are the task's
parameters (``-T num_fewshot=3`` on the command line) and are recorded in every run.
The factory returns a `Task` whose ``load`` turns the data options into samples.
"""

from __future__ import annotations

import hashlib
import inspect
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from harness._errors import HarnessError
from harness._registry import Registry
from harness._scorer import Scorer
from harness._types import GenerationParams, Sample

if TYPE_CHECKING:
    from harness._context import RunContext

DATA_DIR_ENV = "HARNESS_DATA_DIR"


@dataclass(frozen=True)
class DataOptions:
    """Where data comes from and which items to take.

    Attributes:
        data_dir: Folder holding one sub-folder per dataset (``gsm8k/test.jsonl``...); None
            means ``$HARNESS_DATA_DIR``, else the task's hub dataset.
        limit: Take only the first ``limit`` items (applied once, by the data layer's
            ``select_items``; tasks return every item).
        seed: Seed for few-shot selection and any sampling of items.
        split: Override the task's evaluation split.
    """

    data_dir: Path | None = None
    limit: int | None = None
    seed: int = 1234
    split: str | None = None

    def resolved_data_dir(self) -> Path | None:
        # Absolute, so that a relative folder (from the command line or the environment) means
        # the working directory wherever it is later joined (e.g. inside a YAML task's folder).
        if self.data_dir is not None:
            return Path(self.data_dir).expanduser().absolute()
        env = os.environ.get(DATA_DIR_ENV)
        return Path(env).expanduser().absolute() if env else None


@dataclass
class DatasetInfo:
    """Where the samples came from, for the run record.

    Attributes:
        name: Dataset name.
        source: "local" or "hub" (or "package" for data inside a wheel).
        location: Folder, file, hub id or package resource.
        split: The split evaluated.
        revision: Hub revision when loaded from the hub.
        files: File name to sha256 of every local file read.
        n_total: Items in the split before ``limit``.
    """

    name: str
    source: str
    location: str
    split: str
    revision: str | None = None
    files: dict[str, str] = field(default_factory=dict)
    n_total: int = 0

    @classmethod
    def local(
        cls, name: str, folder: Path, split: str, files: list[Path], n_total: int
    ) -> DatasetInfo:
        """Info for a split read from local ``files`` in ``folder``, each hashed (sha256)."""
        from harness._data import sha256_file  # _data imports this module

        return cls(
            name,
            "local",
            str(folder),
            split,
            files={f.name: sha256_file(f) for f in files},
            n_total=n_total,
        )


@dataclass
class Dataset:
    samples: list[Sample]
    info: DatasetInfo


@dataclass
class Task:
    """A runnable evaluation.

    Attributes:
        name: Registry name.
        version: Bumped whenever prompts, data handling or scoring change results.
        description: One line, shown by ``harness tasks``.
        load: Builds the samples from the data options.
        scorers: Judge each sample.
        generation: Default generation parameters.
        prompt_template: The template text; its hash is recorded so prompt changes show.
        mode: "generate" (the model writes an answer) or "loglikelihood" (choices are scored).
        params: The factory arguments this task was built with.
    """

    name: str
    version: str
    description: str
    load: Callable[[DataOptions], Dataset]
    scorers: list[Scorer]
    generation: GenerationParams = GenerationParams()
    prompt_template: str = ""
    mode: Literal["generate", "loglikelihood"] = "generate"
    params: dict[str, Any] = field(default_factory=dict)

    def preflight(self, ctx: RunContext) -> None:
        """Runs every scorer's pre-generation checks (permissions, tools, endpoints)."""
        for scorer in self.scorers:
            scorer.preflight(ctx)

    @property
    def prompt_sha256(self) -> str:
        return hashlib.sha256(self.prompt_template.encode()).hexdigest()


@dataclass
class TaskFactory:
    """A registered task factory with its description (readable without building the task)."""

    name: str
    description: str
    factory: Callable[..., Task]

    def parameters(self) -> dict[str, Any]:
        sig = inspect.signature(self.factory)
        return {
            k: (None if p.default is inspect.Parameter.empty else p.default)
            for k, p in sig.parameters.items()
        }

    def __call__(self, **params: Any) -> Task:
        known = self.parameters()
        unknown = sorted(set(params) - set(known))
        if unknown:
            raise HarnessError(
                f"task {self.name!r} has no parameter {', '.join(unknown)}; "
                f"its parameters are: {', '.join(known) or 'none'}"
            )
        built = self.factory(**params)
        built.params = {**known, **params}
        return built


tasks: Registry[TaskFactory] = Registry("task")


def task(
    name: str | None = None, *, description: str = ""
) -> Callable[[Callable[..., Task]], TaskFactory]:
    """Registers a task factory.

    Args:
        name: Registry name (defaults to the function name).
        description: One line for ``harness tasks`` (defaults to the docstring's first line).
    """

    def wrap(fn: Callable[..., Task]) -> TaskFactory:
        desc = description or (inspect.getdoc(fn) or "").split("\n")[0]
        tf = TaskFactory(name or fn.__name__, desc, fn)
        tasks.register(tf.name, tf)
        return tf

    return wrap


def get_task(name: str, **params: Any) -> Task:
    """Builds the registered task ``name`` with ``params``, or the task in a YAML file when
    ``name`` is the path of a ``.yaml``/``.yml`` file."""
    if name.endswith((".yaml", ".yml")) and Path(name).is_file():
        from harness.yaml_task import load_yaml_task

        return load_yaml_task(Path(name), **params)
    return tasks.get(name)(**params)
