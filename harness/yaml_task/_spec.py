"""The schema of a YAML task file (pydantic models, strict) and its validation.

`parse_spec` checks a file's content against `TaskSpec` and the registries and reports every
problem in one `HarnessError`; `harness.yaml_task.load_yaml_task` then builds the task.
"""

from __future__ import annotations

import inspect
import os
import re
import string
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from harness._errors import HarnessError
from harness._scorer import scorers


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class _Source(_Strict):
    """A local file (``path``) or a hub dataset (``hub`` + ``config``), exactly one."""

    path: str | None = Field(None, description="local .jsonl/.csv/.json file")
    hub: str | None = Field(None, description="Hugging Face dataset id (online only)")
    config: str | None = Field(None, description="hub dataset config")

    @field_validator("path")
    @classmethod
    def _suffix(cls, path: str | None) -> str | None:
        if path is not None and not path.endswith((".jsonl", ".csv", ".json")):
            raise ValueError(f"{path!r} must end in .jsonl, .csv or .json")
        return path

    @model_validator(mode="after")
    def _one_source(self) -> _Source:
        if (self.path is None) == (self.hub is None):
            raise ValueError("give exactly one of path (a local file) or hub (a dataset id)")
        return self


class DatasetSpec(_Source):
    """Where the items come from and which columns matter.

    Every column reference is a field path: ``answer``, ``turns[0]`` (a list item),
    ``meta.ref`` (a mapping key).
    """

    split: str = Field("test", description="hub split to load; recorded for local files")
    fields: dict[str, str] = Field(default_factory=dict, description="placeholder -> path")
    target: str | list[str] | None = Field(
        None, description="path (or paths, for several references); none: reference-free"
    )
    optional_target: bool = Field(
        False, description="a row whose target path is missing or null gets no target"
    )
    target_pattern: str | None = Field(None, description="regex; its first group is the target")
    choices: str | None = Field(
        None, description="loglikelihood: path of each row's list of choices"
    )
    metadata: dict[str, str] = Field(
        default_factory=dict,
        description="sample metadata key -> path (e.g. category for a judge's template_by)",
    )
    id: str | None = Field(None, description="path of item ids (default: row number)")


class PromptSpec(_Strict):
    """The prompt: ``{placeholders}`` are field paths (or ``dataset.fields`` keys).

    ``turns`` instead of ``template`` makes a multi-turn task: the model answers each turn
    with its own earlier answers in the conversation (MT-bench's second turn).
    """

    template: str | None = None
    turns: list[str] | None = Field(None, min_length=1, description="one template per turn")
    system: str | None = None

    @model_validator(mode="after")
    def _one_form(self) -> PromptSpec:
        if (self.template is None) == (self.turns is None):
            raise ValueError("give exactly one of template or turns")
        return self

    def first(self) -> str:
        """The first turn's template."""
        return self.template if self.template is not None else (self.turns or [""])[0]


class FewShotSpec(_Source):
    """k exemplars drawn (with the run's seed) from another file or hub split."""

    k: int = Field(ge=0)
    split: str = "train"
    answer: str = Field(description="template of an exemplar's answer, e.g. ' {summary}'")


class ExtractionSpec(_Strict):
    """How the answer is taken from the output: a regex, or the first of some choices."""

    regex: str | None = None
    select: Literal["first", "last"] = "first"
    choices: list[str] | None = None

    @model_validator(mode="after")
    def _one_kind(self) -> ExtractionSpec:
        if (self.regex is None) == (self.choices is None):
            raise ValueError("give exactly one of regex or choices")
        return self


class MetricSpec(_Strict):
    """A scorer from the registry and its constructor arguments."""

    name: str
    args: dict[str, Any] = Field(default_factory=dict)


class GenerationSpec(_Strict):
    max_new_tokens: int = Field(256, gt=0)
    temperature: float = Field(0.0, ge=0)
    top_p: float = Field(1.0, gt=0, le=1)
    stop: list[str] = Field(default_factory=list)


class TaskSpec(_Strict):
    """A whole task file."""

    name: str = Field(pattern=r"^[A-Za-z0-9_.-]+$")
    version: str = "1"
    description: str = ""
    mode: Literal["generate", "loglikelihood"] = "generate"
    choice_prefix: str = Field(" ", description="loglikelihood: put before each choice")
    dataset: DatasetSpec
    prompt: PromptSpec
    fewshot: FewShotSpec | None = None
    extraction: ExtractionSpec | None = None
    metrics: list[MetricSpec] = Field(min_length=1, description="names or {name, args}")
    generation: GenerationSpec = GenerationSpec()
    categories: str | None = Field(
        None, description="a dataset.metadata key: every metric is also reported per its value"
    )
    reasoning_markers: tuple[str, str] | None = Field(
        None, description="[START, END] of the thinking block outputs are split at"
    )
    primary_metrics: list[str] = Field(
        default_factory=list,
        description="metric names the report shows first (default: every quality metric)",
    )

    @model_validator(mode="after")
    def _category_key(self) -> TaskSpec:
        if self.categories is not None and self.categories not in self.dataset.metadata:
            known = ", ".join(self.dataset.metadata) or "none"
            raise ValueError(
                f"categories: {self.categories!r} is not a dataset.metadata key (keys: {known}); "
                "name the metadata field that holds each sample's category"
            )
        return self

    @field_validator("metrics", mode="before")
    @classmethod
    def _names(cls, value: Any) -> Any:
        if isinstance(value, list):
            return [{"name": v} if isinstance(v, str) else v for v in value]
        return value


def _placeholders(template: str) -> list[str]:
    return [f for _, f, _, _ in string.Formatter().parse(template) if f]


def templates_of(raw: dict[str, Any]) -> list[tuple[str, str]]:
    """(where, template) for every template of a (possibly malformed) task file."""
    pr, fs = raw.get("prompt") or {}, raw.get("fewshot") or {}
    found: list[tuple[str, Any]] = []
    if isinstance(pr, dict):
        found += [("prompt.template", pr.get("template")), ("prompt.system", pr.get("system"))]
        turns = pr.get("turns")
        found += (
            [(f"prompt.turns[{i}]", t) for i, t in enumerate(turns or [])]
            if isinstance(turns, list)
            else []
        )
    if isinstance(fs, dict):
        found.append(("fewshot.answer", fs.get("answer")))
    return [(w, t) for w, t in found if isinstance(t, str)]


def _cross_checks(raw: dict[str, Any], base: Path) -> list[str]:
    """Checks that span keys or need the registry; tolerant of a malformed ``raw``."""
    errors: list[str] = []
    ds = raw.get("dataset") or {}
    ex = raw.get("extraction") or {}
    for where, template in templates_of(raw):
        if where == "prompt.system":
            continue  # sent as written
        try:
            _placeholders(template)
        except ValueError as e:
            errors.append(f"{where}: {e} (write {{{{ and }}}} for literal braces)")
    for where, pattern in (
        ("extraction.regex", ex.get("regex") if isinstance(ex, dict) else None),
        ("dataset.target_pattern", ds.get("target_pattern") if isinstance(ds, dict) else None),
    ):
        if isinstance(pattern, str):
            try:
                re.compile(pattern)
            except re.error as e:
                errors.append(f"{where}: not a valid regular expression ({e})")
    import harness.metrics  # noqa: F401  (registers the built-in metric scorers)

    for i, m in enumerate(raw.get("metrics") or [] if isinstance(raw.get("metrics"), list) else []):
        name = m if isinstance(m, str) else m.get("name") if isinstance(m, dict) else None
        args = (m.get("args") or {}) if isinstance(m, dict) else {}
        if not isinstance(name, str):
            continue
        try:
            factory = scorers.get(name)
        except HarnessError as e:
            errors.append(
                f"metrics[{i}]: {str(e).split(' Run `')[0]} Valid scorers: "
                f"{', '.join(scorers.names())}."
            )
            continue
        if isinstance(args, dict):
            try:  # building a scorer loads no model; it checks the arguments
                factory(**_auto_args(factory, task_relative(factory, dict(args), base), raw))
            except (TypeError, ValueError, HarnessError) as e:
                errors.append(
                    f"metrics[{i}] ({name}): {(str(e) or type(e).__name__).splitlines()[0]}"
                )
    per_item = isinstance(ds, dict) and ds.get("choices")
    if raw.get("mode") == "loglikelihood" and not (
        per_item or (isinstance(ex, dict) and ex.get("choices"))
    ):
        errors.append(
            "extraction.choices or dataset.choices: required in loglikelihood mode (the "
            "continuations to score)"
        )
    pr = raw.get("prompt") or {}
    if raw.get("mode") == "loglikelihood" and isinstance(pr, dict) and pr.get("turns"):
        errors.append("prompt.turns: multi-turn tasks generate; use mode: generate")
    return errors


def task_relative(factory: Any, args: dict[str, Any], base: Path) -> dict[str, Any]:
    """A scorer's file arguments (its ``path_args``: judge templates) resolved from the task
    file's folder first; a name not found there is left for the scorer (a built-in, then the
    current directory)."""

    def resolve(value: Any) -> Any:
        if isinstance(value, dict):
            return {k: resolve(v) for k, v in value.items()}
        if isinstance(value, str) and value and not Path(value).is_absolute():
            here = base / os.path.expanduser(value)
            return str(here) if here.is_file() else value
        return value

    for key in getattr(factory, "path_args", ()):
        if key in args:
            args[key] = resolve(args[key])
    return args


def _auto_args(factory: Any, args: dict[str, Any], raw: dict[str, Any]) -> dict[str, Any]:
    """Fills a scorer's ``labels`` from ``extraction.choices`` when not given."""
    ex = raw.get("extraction") or {}
    params = inspect.signature(factory).parameters
    if "labels" in params and "labels" not in args and isinstance(ex, dict) and ex.get("choices"):
        return {**args, "labels": list(ex["choices"])}
    return args


def parse_spec(raw: Any, source: str, more: list[str] | None = None) -> TaskSpec:
    """Validates a task file's content; every problem (with ``more`` found elsewhere, e.g.
    placeholders the data lacks) is reported in one `HarnessError`."""
    if not isinstance(raw, dict):
        raise HarnessError(
            f"{source}: expected a mapping of keys (name, dataset, prompt, metrics, ...)"
        )
    errors = []
    spec = None
    try:
        spec = TaskSpec.model_validate(raw)
    except ValidationError as e:
        for err in e.errors():
            loc = ".".join(str(p) if isinstance(p, str) else f"[{p}]" for p in err["loc"]).replace(
                ".[", "["
            )
            msg = err["msg"].removeprefix("Value error, ")
            errors.append(f"{loc or 'file'}: {msg}")
    base = Path(source).resolve().parent if source and Path(source).is_file() else Path.cwd()
    errors += _cross_checks(raw, base) + list(more or [])
    if errors:
        raise HarnessError(
            f"{source}: {len(errors)} problem{'s' if len(errors) > 1 else ''}: " + "; ".join(errors)
        )
    assert spec is not None
    return spec
