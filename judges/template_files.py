"""Reading a judge template from a file: harness's keys or FastChat's, checked.

A file is YAML or JSON with ``system`` and ``user`` (harness) or ``system_prompt`` and
``prompt_template`` (one line of FastChat's ``judge_prompts.jsonl``), or plain text taken as
the user prompt. Optional keys: ``format`` / ``pattern`` (how the verdict is read; FastChat's
``output_format: "[[rating]]"`` or ``"[[A]]"`` mean free text read by that pattern), ``type``
(``single`` / ``pairwise``), ``fence`` (default true), ``temperature``, ``max_tokens``. With the
fence on, `judges.templates.FENCE_NOTE` is appended to the file's system prompt, so the judge
knows what the ``<answer-…>`` tags are; the template's hash covers the note.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from harness import HarnessError
from judges._template import FENCE_NOTE, FORMATS, RATING_PATTERN, JudgeTemplate, VerdictFormat

KEYS = {
    "name", "system", "user", "system_prompt", "prompt_template", "format", "pattern",
    "output_format", "type", "category", "fence", "temperature", "max_tokens", "kind",
}  # fmt: skip
OUTPUT_FORMATS = {"[[rating]]": RATING_PATTERN, "[[A]]": None}  # FastChat's, read as free text
FREE_TEXT_MAX_TOKENS = 1024  # room for an explanation before "[[rating]]" (FastChat: 2048)


def read_template(path: Path, kind: str, default_system: str) -> JudgeTemplate:
    """The template in ``path`` (see the module docstring); ``default_system`` for a file
    that gives no system prompt (the built-in one, with the injection guard).

    Raises:
        HarnessError: Naming the file and what to change.
    """
    text = path.read_text(encoding="utf-8")
    if path.suffix not in (".json", ".yaml", ".yml"):
        return _checked(path, JudgeTemplate(f"file:{path.name}", default_system, text, kind))
    import yaml

    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as e:
        raise HarnessError(f"{path}: not valid YAML/JSON ({e})") from None
    if not isinstance(data, dict) or not ({"user", "prompt_template"} & set(data)):
        raise HarnessError(
            f"{path}: a judge template file needs a 'user' key (and 'system'), or FastChat's "
            "'prompt_template' (and 'system_prompt')"
        )
    unknown = sorted(set(data) - KEYS)
    if unknown:
        raise HarnessError(f"{path}: unknown key(s) {', '.join(unknown)}; use {', '.join(KEYS)}")
    kind = {"single": "score", "pairwise": "pairwise"}.get(str(data.get("type")), kind)
    fmt, pattern = _declared_format(path, data)
    fence = data.get("fence", True)
    if not isinstance(fence, bool):
        raise HarnessError(f"{path}: fence must be true or false (got {fence!r})")
    system = str(data.get("system", data.get("system_prompt", default_system)))
    if fence and ("system" in data or "system_prompt" in data):
        system += ("" if system.endswith((" ", "\n")) or not system else " ") + FENCE_NOTE
    tmpl = JudgeTemplate(
        name=f"file:{path.name}",
        system=system,
        user=str(data.get("user", data.get("prompt_template"))),
        kind=kind,
        format=fmt,
        pattern=pattern,
        fence=fence,
        temperature=_number(path, data, "temperature", 0.0, 0.0),
        max_tokens=_tokens(path, data, fmt),
    )
    return _checked(path, tmpl)


def _checked(path: Path, tmpl: JudgeTemplate) -> JudgeTemplate:
    fields = tmpl.fields
    if tmpl.kind == "pairwise":
        ok = {"answer_a", "answer_b"} <= fields or {"answer_a_1", "answer_b_1"} <= fields
        need = "{answer_a} and {answer_b} (or {answer_a_1}, {answer_b_1}, ...)"
    else:
        ok = "answer" in fields or any(re.fullmatch(r"answer_\d+", f) for f in fields)
        need = "{answer} (or {answer_1}, {answer_2}, ...)"
    if not ok:
        raise HarnessError(f"{path}: judge template must contain {need}")
    return tmpl


def _declared_format(path: Path, data: dict[str, Any]) -> tuple[VerdictFormat | None, str | None]:
    """A template file's ``format`` (and ``pattern`` for regex), checked."""
    fmt, pattern = data.get("format"), data.get("pattern")
    if "output_format" in data:
        out = data["output_format"]
        if out not in OUTPUT_FORMATS:
            raise HarnessError(
                f"{path}: output_format {out!r} is not supported; use one of "
                f"{', '.join(OUTPUT_FORMATS)}, or format/pattern"
            )
        fmt, pattern = fmt or "regex", pattern or OUTPUT_FORMATS[out]
    if fmt is not None and fmt not in FORMATS:
        raise HarnessError(f"{path}: format {fmt!r} is not one of {', '.join(FORMATS)}")
    if pattern is not None:
        if fmt != "regex":
            raise HarnessError(f"{path}: 'pattern' needs format: regex")
        try:
            if re.compile(str(pattern)).groups < 1:
                raise HarnessError(f"{path}: pattern needs a group holding the score")
        except re.error as e:
            raise HarnessError(f"{path}: pattern is not a valid regex ({e})") from None
    return fmt, None if pattern is None else str(pattern)


def _number(path: Path, data: dict[str, Any], key: str, default: float, low: float) -> float:
    value = data.get(key, default)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value < low:
        raise HarnessError(f"{path}: {key} must be a number >= {low:g} (got {value!r})")
    return float(value)


def _tokens(path: Path, data: dict[str, Any], fmt: str | None) -> int | None:
    value = data.get("max_tokens")
    if value is None:
        return FREE_TEXT_MAX_TOKENS if fmt == "regex" else None
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise HarnessError(f"{path}: max_tokens must be an integer >= 1 (got {value!r})")
    return value
