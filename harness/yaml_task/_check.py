"""Checking a task file against its data before anything runs.

Every placeholder and every field path the file names (``target``, ``choices``, ``metadata``,
``id``) must resolve in the dataset's first row; what does not is reported with the file's other
problems (a ``{problme}`` typo is listed with the columns that exist). A dataset behind
``${HARNESS_DATA_DIR}`` with no data folder given is checked when it is loaded instead.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from harness._data import DataOptions
from harness._errors import DataError
from harness.yaml_task._fields import MissingField, get_path, placeholders
from harness.yaml_task._spec import templates_of


def _first_row(path: Path) -> dict[str, Any] | None:
    from harness.yaml_task._build import _read_rows

    if path.suffix == ".jsonl":
        from harness._data import read_jsonl

        return next(iter(read_jsonl(path)), None)
    rows = _read_rows(path)
    return rows[0] if rows else None


def _paths(ds: dict[str, Any]) -> list[tuple[str, Any]]:
    target = ds.get("target")
    found: list[tuple[str, Any]] = []
    if not ds.get("optional_target"):
        found += [("dataset.target", t) for t in (target if isinstance(target, list) else [target])]
    found += [("dataset.choices", ds.get("choices")), ("dataset.id", ds.get("id"))]
    meta = ds.get("metadata")
    if isinstance(meta, dict):
        found += [(f"dataset.metadata.{k}", v) for k, v in meta.items()]
    return [(w, p) for w, p in found if isinstance(p, str)]


def data_problems(raw: Any, base: Path, options: DataOptions | None = None) -> list[str]:
    """The task file's references that the first data row does not have (tolerant of a
    malformed file: what cannot be checked is left to the schema's own messages)."""
    from harness.yaml_task._build import _resolve

    ds = raw.get("dataset") if isinstance(raw, dict) else None
    if not isinstance(ds, dict) or not isinstance(ds.get("path"), str):
        return []
    if not ds["path"].endswith((".jsonl", ".csv", ".json")):
        return []
    try:
        file = _resolve(ds["path"], base, options or DataOptions())
    except DataError:
        return []  # no data folder yet: checked when the data is loaded
    if not file.is_file():
        return [f"dataset.path: {file} does not exist (relative paths start at the YAML file)"]
    try:
        row = _first_row(file)
    except DataError as e:
        return [f"dataset.path: {e}"]
    if row is None:
        return [f"dataset.path: {file} has no rows"]
    given = ds.get("fields")
    fields: dict[str, Any] = given if isinstance(given, dict) else {}
    refs = [
        (where, f"{{{name}}}", str(fields.get(name, name)))
        for where, template in templates_of(raw)
        if where.startswith("prompt.") and where != "prompt.system"
        for name in _safe_placeholders(template)
    ]
    refs += [(where, path, path) for where, path in _paths(ds)]
    problems = []
    for where, shown, path in refs:
        try:
            get_path(row, path)
        except (MissingField, ValueError) as e:
            problems.append(f"{where}: {shown} is not in {file.name} ({e})")
    return problems


def _safe_placeholders(template: str) -> list[str]:
    try:
        return placeholders(template)
    except ValueError:
        return []  # reported by the schema check
