"""Field paths into a dataset row and ``{placeholder}`` filling for YAML tasks.

A path names a column and may index into it: ``turns[0]`` (an item of a list column),
``meta.ref`` (a key of a mapping column), or both (``conv[1].content``). Placeholders in a
template are paths too, or names from ``dataset.fields`` that map to a path.
"""

from __future__ import annotations

import re
import string
from typing import Any

_STEP = re.compile(r"\[(-?\d+)\]|\.?([^.\[\]]+)")


class MissingField(LookupError):
    """A path that does not resolve in a row; the message says which step failed."""


def steps(path: str) -> list[str | int]:
    """The steps of a path: column names (str) and list indices (int).

    Raises:
        ValueError: The path is not ``name``, ``name.key`` or ``name[i]`` steps.
    """
    out: list[str | int] = []
    pos = 0
    while pos < len(path):
        m = _STEP.match(path, pos)
        if m is None or m.end() == pos:
            raise ValueError(f"bad field path {path!r} (write name, name.key or name[0])")
        out.append(int(m.group(1)) if m.group(1) is not None else m.group(2))
        pos = m.end()
    if not out or not isinstance(out[0], str):
        raise ValueError(f"bad field path {path!r} (it must start with a column name)")
    return out


def get_path(row: dict[str, Any], path: str) -> Any:
    """The value at ``path`` in ``row``.

    Raises:
        MissingField: A column, key or index along the path does not exist.
    """
    value: Any = row
    done = ""
    for step in steps(path):
        if isinstance(step, int):
            if not isinstance(value, list) or not -len(value) <= step < len(value):
                size = f"a list of {len(value)}" if isinstance(value, list) else "not a list"
                raise MissingField(f"{done}[{step}]: {done} is {size}")
            value = value[step]
            done += f"[{step}]"
        else:
            if not isinstance(value, dict) or step not in value:
                keys = ", ".join(map(str, value)) if isinstance(value, dict) else "not a mapping"
                where = f"{done}.{step}" if done else step
                raise MissingField(f"{where}: no such {'key' if done else 'column'} ({keys})")
            value = value[step]
            done = f"{done}.{step}" if done else step
    return value


def placeholders(template: str) -> list[str]:
    """The ``{...}`` field names of a template, in order (``{{`` / ``}}`` are literal braces).

    Raises:
        ValueError: Unbalanced braces.
    """
    return [f for _, f, _, _ in string.Formatter().parse(template) if f]


def fill(template: str, row: dict[str, Any], fields: dict[str, str]) -> str:
    """The template with each placeholder replaced by its value in ``row``.

    Raises:
        MissingField: A placeholder does not resolve (the message names it).
    """
    out = []
    for literal, name, _spec, _conv in string.Formatter().parse(template):
        out.append(literal)
        if name:
            try:
                out.append(str(get_path(row, fields.get(name, name))))
            except MissingField as e:
                raise MissingField(f"{{{name}}}: {e}") from None
    return "".join(out)
