"""Tasks: a dataset, a prompt format, generation defaults and scorers, under one name.

A task is declared as a factory decorated with `@task`; its keyword arguments are the task's
parameters (``-T num_fewshot=3`` on the command line) and are recorded in every run.
The factory returns a `Task` whose ``load`` turns the data options into samples.
"""

from __future__ import annotations

import hashlib
import inspect
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from harness._data import DataOptions, Dataset
from harness._errors import HarnessError
from harness._registry import Registry
from harness._scorer import Scorer
from harness._types import GenerationParams

if TYPE_CHECKING:
    from harness._context import RunContext


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
        chat_template: False: prompts are sent as plain text whatever the backend's setting
            (lm-eval's multiple-choice conventions); None: as the backend renders them.
        params: The factory arguments this task was built with.
        source_file: The YAML file a user-defined task was read from (None: a Python task).
        source_sha256: sha256 of that file when it was read.
        categories: The `Sample.metadata` key holding each sample's category (MMLU subject,
            IFEval instruction group); every metric is then also reported per category as
            ``METRIC@CATEGORY``. None: no per-category breakdown.
        reasoning_markers: Start and end marker of the thinking block this task's outputs
            are split at (None: the model's, or its chat template's; `harness.reasoning`).
        primary_metrics: The metrics a reader looks at first (GSM8K: flexible and strict
            match); the report's leaderboard and paper table show them first, the others
            behind a toggle. Names the run does not produce are ignored; empty: every
            quality metric counts as primary.
    """

    name: str
    version: str
    description: str
    load: Callable[[DataOptions], Dataset]
    scorers: list[Scorer]
    generation: GenerationParams = GenerationParams()
    prompt_template: str = ""
    mode: Literal["generate", "loglikelihood"] = "generate"
    chat_template: bool | None = None
    params: dict[str, Any] = field(default_factory=dict)
    source_file: str | None = None
    source_sha256: str | None = None
    categories: str | None = None
    reasoning_markers: tuple[str, str] | None = None
    primary_metrics: tuple[str, ...] = ()

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


tasks: Registry[TaskFactory] = Registry("task", list_command="harness tasks")


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
