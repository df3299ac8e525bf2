"""Suites: several tasks, each with its parameters and item selection, run as one evaluation.

``harness run --task gsm8k,viggo,examples/suites/daily.yaml`` expands each comma-separated
part into `SuiteTask` values: a registered task name, a task YAML file, or a suite file
(``examples/suites/*.yaml``, recognised by its top-level ``tasks:`` list). A suite file::

    name: daily
    limit: 20                    # default for every task: a count or a fraction (0.1)
    tasks:
      - gsm8k                    # a bare name takes the defaults
      - task: viggo
        sample: 30               # a seeded random subset instead of the first items
      - task: dialogsum
        params: {num_fewshot: 1}
        limit: 10

`harness.run_eval` runs every task on one backend (one engine start), all records sharing a
``group_id``. Unknown keys are errors, all reported in one message.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from harness._errors import HarnessError, validation_problems

Count = int | float  # a number of items, or a fraction 0 < x < 1 of the split


@dataclass(frozen=True)
class SuiteTask:
    """One task of a run: what to build and which of its items to evaluate.

    Attributes:
        task: Registered task name or task YAML file.
        params: Task factory arguments (override the command line's ``-T``).
        limit: First N items or a fraction (None: the command line's ``--limit``).
        sample: Seeded random subset (None: the command line's ``--sample``).
    """

    task: str
    params: dict[str, Any] = field(default_factory=dict)
    limit: Count | None = None
    sample: Count | None = None


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class _Entry(_Strict):
    task: str = Field(description="registered task name or task YAML file")
    params: dict[str, Any] = Field(default_factory=dict, description="task factory arguments")
    limit: Count | None = Field(None, gt=0, description="first N items, or a fraction")
    sample: Count | None = Field(None, gt=0, description="seeded random subset of N items")

    @model_validator(mode="after")
    def _one_selection(self) -> _Entry:
        if self.limit is not None and self.sample is not None:
            raise ValueError("give limit or sample, not both")
        return self


class SuiteFile(_Strict):
    """A suite file (``examples/suites/*.yaml``)."""

    name: str | None = Field(None, description="the suite's name (for people; not recorded)")
    description: str | None = None
    limit: Count | None = Field(None, gt=0, description="default limit of every task")
    sample: Count | None = Field(None, gt=0, description="default sample of every task")
    tasks: list[_Entry] = Field(min_length=1)

    @field_validator("tasks", mode="before")
    @classmethod
    def _bare_names(cls, value: Any) -> Any:
        """A bare name in the list is an entry with only ``task``."""
        if isinstance(value, list):
            return [{"task": v} if isinstance(v, str) else v for v in value]
        return value


def is_suite_file(ref: str) -> bool:
    """Whether ``ref`` names a YAML file whose top level holds a ``tasks:`` list."""
    path = Path(ref)
    if not ref.endswith((".yaml", ".yml")) or not path.is_file():
        return False
    import yaml

    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (yaml.YAMLError, OSError):
        return False  # reported by the task loader, which names the line
    return isinstance(data, dict) and isinstance(data.get("tasks"), list)


def load_suite(path: Path) -> list[SuiteTask]:
    """The tasks of a suite file, with the file's defaults applied.

    Raises:
        HarnessError: The file is unreadable, not YAML, or not a valid suite (all problems).
    """
    import yaml

    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as e:
        raise HarnessError(f"cannot read suite file {path}: {e.strerror}") from None
    except yaml.YAMLError as e:
        raise HarnessError(f"{path}: not valid YAML: {' '.join(str(e).split())}") from None
    try:
        suite = SuiteFile.model_validate(data)
    except ValidationError as e:
        errs = validation_problems(e)
        raise HarnessError(f"{path}: {e.error_count()} error(s): {errs}") from None
    out = []
    for entry in suite.tasks:
        own = entry.limit is not None or entry.sample is not None
        out.append(
            SuiteTask(
                task=_relative(entry.task, path),
                params=dict(entry.params),
                limit=entry.limit if own else suite.limit,
                sample=entry.sample if own else suite.sample,
            )
        )
    return out


def _relative(task: str, suite: Path) -> str:
    """A task YAML path in a suite is relative to the suite file (names are left alone)."""
    if task.endswith((".yaml", ".yml")) and not Path(task).is_absolute():
        return str(suite.parent / task)
    return task


def parse_task_arg(value: str) -> list[SuiteTask]:
    """``--task`` as tasks: comma-separated names, task YAML files and suite files.

    Raises:
        HarnessError: An empty part (``a,,b``) or a bad suite file.
    """
    parts = [p.strip() for p in value.split(",")]
    if not all(parts):
        raise HarnessError(
            f"--task {value!r}: an empty task name; separate names with single commas"
        )
    out: list[SuiteTask] = []
    for part in parts:
        out += load_suite(Path(part)) if is_suite_file(part) else [SuiteTask(part)]
    return out
