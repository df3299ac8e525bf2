"""User-facing errors.

A `HarnessError` is something the user can fix (a missing file, a typo in a task name, an
adapter built for another model). The CLI prints its message on one line and exits with code
2, without a traceback; everything else is a bug and keeps its traceback.
"""

from __future__ import annotations

from typing import Any


class HarnessError(Exception):
    """An error the user caused and can fix; the message says what to do."""

    exit_code: int = 2


class DataError(HarnessError):
    """A dataset file is missing or malformed."""


class ModelError(HarnessError):
    """A model or adapter cannot be loaded or does not fit the served model."""


class BackendError(HarnessError):
    """A backend (server, engine) could not be reached or started."""


class BackendOptionError(HarnessError):
    """An option given to a backend that does not take it (``--base-url`` with ``hf``)."""


def validation_problems(error: Any) -> str:
    """Every problem of a pydantic ``ValidationError`` in one line: ``loc: msg; loc: msg``."""
    return "; ".join(
        f"{'.'.join(map(str, err['loc'])) or '(top)'}: {err['msg']}" for err in error.errors()
    )
