"""User-defined tasks in YAML: combine a dataset, a prompt, few-shot, extraction and metrics.

A task file names existing pieces only (no code, no includes, no templating language beyond
``{column}`` placeholders); `load_yaml_task` validates it strictly (unknown keys are errors)
and reports every problem in one message. ``harness run --task my_task.yaml`` loads it through
`harness.get_task`. A complete example::

    name: dialogsum_rouge
    dataset:
      path: ${HARNESS_DATA_DIR}/dialogsum/dialogsum.test.jsonl   # .jsonl, .csv or .json
      target: [summary1, summary2, summary3]                      # column(s): references
    prompt:
      template: "Summarize the dialogue.\\n\\n{dialogue}\\n\\nSummary:"
    metrics: [rouge, {name: bleu, args: {tokenize: "13a"}}]

Paths are relative to the YAML file; ``${HARNESS_DATA_DIR}`` expands to ``--data-dir`` (or the
variable). See `TaskSpec` and its parts for every key.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from harness._data import sha256_file
from harness._errors import HarnessError
from harness._task import Task
from harness.yaml_task._build import build_task
from harness.yaml_task._check import data_problems
from harness.yaml_task._spec import TaskSpec, parse_spec

__all__ = ["TaskSpec", "load_yaml_task", "parse_spec"]


def load_yaml_task(path: Path, **params: Any) -> Task:
    """Reads, validates and builds the task in a YAML file.

    Raises:
        HarnessError: The file is not valid YAML or not a valid task (all problems listed).
    """
    import yaml

    num_fewshot = params.pop("num_fewshot", None)
    if params:
        raise HarnessError(
            f"{path}: YAML tasks take no -T parameters ({', '.join(params)}); edit the file"
        )
    try:
        raw = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f":{mark.line + 1}" if mark is not None else ""
        raise HarnessError(
            f"{path}{where}: not valid YAML ({getattr(e, 'problem', None) or e})"
        ) from None
    except OSError as e:
        raise HarnessError(f"cannot read task file {path}: {e.strerror}") from None

    spec = parse_spec(raw, str(path), data_problems(raw, Path(path).resolve().parent))
    if num_fewshot is not None:  # --num-fewshot overrides fewshot.k
        if spec.fewshot is None:
            raise HarnessError(f"{path}: --num-fewshot needs a fewshot: section in the file")
        spec = spec.model_copy(
            update={"fewshot": spec.fewshot.model_copy(update={"k": int(num_fewshot)})}
        )
    task = build_task(spec, Path(path).resolve().parent, str(path))
    task.params = {"file": str(path), "sha256": _sha(path)}
    if num_fewshot is not None:
        task.params["num_fewshot"] = int(num_fewshot)
    return task


def _sha(path: Path) -> str:
    return sha256_file(Path(path))
