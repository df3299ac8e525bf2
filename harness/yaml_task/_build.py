"""Building a runnable `Task` from a validated YAML `TaskSpec`: reading rows, filling
templates, few-shot exemplars, and wrapping scorers with the file's extraction step."""

from __future__ import annotations

import hashlib
import os
import random
import re
from pathlib import Path
from typing import Any

from harness._data import DATA_DIR_ENV, DataOptions, Dataset, DatasetInfo, read_text
from harness._errors import DataError
from harness._scorer import Scorer, scorers
from harness._task import Task
from harness._types import GenerationParams, Message, Output, Prompt, Sample, Score
from harness.yaml_task._fields import MissingField, fill, get_path
from harness.yaml_task._spec import ExtractionSpec, TaskSpec, _auto_args, task_relative


class Extracted(Scorer):
    """Applies a task file's extraction to every output, then scores with ``inner``."""

    def __init__(self, inner: Scorer, extraction: ExtractionSpec) -> None:
        super().__init__(inner=inner.spec(), extraction=extraction.model_dump(exclude_none=True))
        self.inner = inner
        self.name = inner.name
        self.extraction = extraction
        self._regex = re.compile(extraction.regex) if extraction.regex else None

    def extract(self, text: str) -> str:
        """The extracted answer ("" when nothing matches)."""
        if self._regex is not None:
            from harness.extract import extract

            return extract(self._regex, text, self.extraction.select) or ""
        from harness.metrics.classification import extract_label

        return extract_label(text, self.extraction.choices or []) or ""

    def _map(self, output: Output) -> Output:
        if output.choice_logprobs is not None:
            return output
        return Output(texts=[self.extract(t) for t in output.texts], errors=output.errors)

    def __call__(self, sample: Sample, output: Output) -> Score:
        return self.inner(sample, self._map(output))

    def preflight(self, ctx: Any) -> None:
        self.inner.preflight(ctx)

    def score_all(self, samples: Any, outputs: Any, ctx: Any = None) -> list[Score]:
        return self.inner.score_all(samples, [self._map(o) for o in outputs], ctx)

    def aggregate(self, scores: Any, samples: Any) -> Any:
        return self.inner.aggregate(scores, samples)

    def extra(self, scores: Any, samples: Any) -> dict[str, Any]:
        return self.inner.extra(scores, samples)

    def problems(self, scores: Any, samples: Any) -> list[str]:
        return self.inner.problems(scores, samples)


def _resolve(path: str, base: Path, options: DataOptions) -> Path:
    data_dir = options.resolved_data_dir()
    if data_dir is not None:
        path = path.replace("${" + DATA_DIR_ENV + "}", str(data_dir)).replace(
            "$" + DATA_DIR_ENV, str(data_dir)
        )
    elif DATA_DIR_ENV in path:
        raise DataError(f"{path} needs a data folder: pass --data-dir or set {DATA_DIR_ENV}")
    p = Path(os.path.expandvars(os.path.expanduser(path)))
    return p if p.is_absolute() else base / p


def _read_rows(path: Path) -> list[dict[str, Any]]:
    from harness._data import read_csv, read_jsonl

    if not path.is_file():
        raise DataError(
            f"{path} does not exist; fix dataset.path (relative paths start at the YAML file)"
        )
    if path.suffix == ".jsonl":
        return list(read_jsonl(path))
    if path.suffix == ".csv":
        return [dict(r) for r in read_csv(path)]
    import json

    try:
        data = json.loads(read_text(path))
    except json.JSONDecodeError as e:
        raise DataError(f"{path}:{e.lineno}: not valid JSON ({e.msg})") from None
    if not isinstance(data, list) or not all(isinstance(r, dict) for r in data):
        raise DataError(f"{path}: expected a JSON list of objects")
    return data


def _rows(
    path: str | None,
    hub: str | None,
    config: str | None,
    split: str,
    base: Path,
    options: DataOptions,
) -> tuple[list[dict[str, Any]], DatasetInfo]:
    from harness._data import load_hub, sha256_file

    if path is not None:
        file = _resolve(path, base, options)
        rows = _read_rows(file)
        return rows, DatasetInfo(
            file.stem,
            "local",
            str(file),
            split,
            files={file.name: sha256_file(file)},
            n_total=len(rows),
        )
    assert hub is not None
    rows, revision = load_hub(hub, split, config)
    return rows, DatasetInfo(hub, "hub", hub, split, revision=revision, n_total=len(rows))


class _Builder:
    """Turns rows into samples the way a validated `TaskSpec` says."""

    def __init__(self, spec: TaskSpec, base: Path) -> None:
        self.spec = spec
        self.base = base
        self.pattern = (
            re.compile(spec.dataset.target_pattern) if spec.dataset.target_pattern else None
        )

    def fill(self, template: str, row: dict[str, Any], where: str) -> str:
        try:
            return fill(template, row, self.spec.dataset.fields)
        except MissingField as e:
            raise DataError(f"{where}: {e}") from None

    def get(self, row: dict[str, Any], path: str, where: str, what: str) -> Any:
        try:
            return get_path(row, path)
        except MissingField as e:
            raise DataError(f"{where}: {what} {e}") from None

    def target(self, row: dict[str, Any], where: str) -> Any:
        ds = self.spec.dataset
        columns = ds.target
        if columns is None:
            return None
        values: list[Any] = []
        for col in [columns] if isinstance(columns, str) else columns:
            try:
                raw = get_path(row, col)
            except MissingField as e:
                if ds.optional_target:
                    continue
                raise DataError(f"{where}: target {e}") from None
            if raw is None and ds.optional_target:
                continue
            if ds.choices and isinstance(raw, int) and self.pattern is None:
                values.append(raw)  # a choice index stays an index
                continue
            value = str(raw)
            if self.pattern is not None:
                m = self.pattern.search(value)
                if m is None:
                    raise DataError(
                        f"{where}: dataset.target_pattern does not match {value[-60:]!r}"
                    )
                value = (m.group(1) if m.groups() else m.group(0)).strip()
            values.append(value)
        if isinstance(columns, str):
            return values[0] if values else None
        return values or None

    def prompt(self, row: dict[str, Any], shots: list[dict[str, Any]], where: str) -> Prompt:
        sp, fs = self.spec.prompt, self.spec.fewshot
        first = sp.first()
        question = self.fill(first, row, where)
        msgs: list[Message] = [Message("system", sp.system)] if sp.system else []
        parts = []
        for j, shot in enumerate(shots):
            q = self.fill(first, shot, f"fewshot exemplar {j}")
            a = self.fill(fs.answer, shot, f"fewshot exemplar {j}") if fs else ""
            parts.append(q + a)
            msgs += [Message("user", q), Message("assistant", a.strip())]
        msgs.append(Message("user", question))
        text = "\n\n".join([*parts, question])
        full = (sp.system + "\n\n" + text) if sp.system else text
        return Prompt(messages=tuple(msgs), text=full, fewshot=len(shots))

    def choices(self, row: dict[str, Any], where: str) -> tuple[list[str] | None, list[str]]:
        """(continuations to score, the choice texts) of a log-likelihood row."""
        spec = self.spec
        if spec.mode != "loglikelihood":
            return None, []
        if spec.dataset.choices:
            texts = self.get(row, spec.dataset.choices, where, "choices")
            if not isinstance(texts, list) or not texts:
                raise DataError(f"{where}: dataset.choices must name a non-empty list")
            texts = [str(t) for t in texts]
        else:
            texts = list(spec.extraction.choices or []) if spec.extraction else []
        return [spec.choice_prefix + t for t in texts], texts

    def sample(self, i: int, row: dict[str, Any], shots: list[dict[str, Any]], info: Any) -> Sample:
        ds, sp = self.spec.dataset, self.spec.prompt
        where = f"{info.location} row {i + 1}"
        sid = str(self.get(row, ds.id, where, "id")) if ds.id else f"{info.split}-{i}"
        choices, texts = self.choices(row, where)
        metadata = {k: self.get(row, path, where, "metadata") for k, path in ds.metadata.items()}
        if ds.choices:
            metadata["choice_texts"] = texts
        return Sample(
            id=sid,
            prompt=self.prompt(row, shots, where),
            target=self.target(row, where),
            choices=choices,
            metadata=metadata,
            followups=tuple(self.fill(t, row, where) for t in (sp.turns or [])[1:]),
        )

    def load(self, options: DataOptions) -> Dataset:
        ds, fs = self.spec.dataset, self.spec.fewshot
        rows, info = _rows(
            ds.path, ds.hub, ds.config, options.split or ds.split, self.base, options
        )
        shots: list[dict[str, Any]] = []
        if fs is not None and fs.k > 0:
            pool, pool_info = _rows(fs.path, fs.hub, fs.config, fs.split, self.base, options)
            if len(pool) < fs.k:
                raise DataError(f"fewshot: k={fs.k} but the exemplar source has {len(pool)} rows")
            shots = random.Random(options.seed).sample(pool, fs.k)
            info.files.update(pool_info.files)
        return Dataset([self.sample(i, row, shots, info) for i, row in enumerate(rows)], info)


def build_task(spec: TaskSpec, base: Path, source: str = "") -> Task:
    """The runnable `Task` for a validated spec; relative paths start at ``base``."""
    import harness.metrics  # noqa: F401

    raw = spec.model_dump()
    built: list[Scorer] = []
    for m in spec.metrics:
        factory = scorers.get(m.name)
        args = task_relative(factory, dict(m.args), base)
        scorer = factory(**_auto_args(factory, args, raw))
        built.append(
            Extracted(scorer, spec.extraction)
            if spec.extraction and spec.mode == "generate"
            else scorer
        )
    g = spec.generation
    return Task(
        name=spec.name,
        version=spec.version,
        description=spec.description or f"user task from {source or 'YAML'}",
        load=_Builder(spec, base).load,
        scorers=built,
        generation=GenerationParams(
            max_new_tokens=g.max_new_tokens,
            temperature=g.temperature,
            top_p=g.top_p,
            stop=tuple(g.stop),
        ),
        prompt_template=(spec.prompt.system or "")
        + "\n\n"
        + "\n\n[next turn]\n\n".join(spec.prompt.turns or [spec.prompt.first()])
        + ("\n\nfewshot answer: " + spec.fewshot.answer if spec.fewshot else ""),
        mode=spec.mode,
        reasoning_markers=spec.reasoning_markers,
        categories=spec.categories,
        primary_metrics=tuple(spec.primary_metrics),
        **_source(source),
    )


def _source(source: str) -> dict[str, Any]:
    """The task file and its hash, for the run's fingerprint."""
    path = Path(source) if source else None
    if path is None or not path.is_file():
        return {}
    return {
        "source_file": str(path.resolve()),
        "source_sha256": hashlib.sha256(path.read_bytes()).hexdigest(),
    }
