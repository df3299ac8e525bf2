"""Finding a task by name (a registered task factory, or a YAML task file) and its items.

Kept apart from `harness._task` (the declarations) so that building a YAML task, which needs
those declarations, does not make `_task` and `harness.yaml_task` import each other.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from harness._data import DataOptions, Dataset, select_items
from harness._task import Task, tasks


def get_task(name: str, **params: Any) -> Task:
    """Builds the registered task ``name`` with ``params``, or the task in a YAML file when
    ``name`` is the path of a ``.yaml``/``.yml`` file."""
    if name.endswith((".yaml", ".yml")) and Path(name).is_file():
        from harness.yaml_task import load_yaml_task

        return load_yaml_task(Path(name), **params)
    return tasks.get(name)(**params)


def load_dataset(task: Task, options: DataOptions) -> Dataset:
    """Loads ``task``'s samples with ``options`` and selects the items to evaluate."""
    return select_items(task.load(options), options)
