"""Re-scoring a stored run: new metrics from old outputs, with no model, backend or cache.

A run folder keeps every item's target and completions and names its scorers with their
arguments, so a run made before a metric existed (or before per-item BLEU was renamed
``bleu_sentence``) can be scored again: with the scorers its record names, rebuilt from the
current code, or with others given by registry name. The result is a new run folder whose
record names the run it was re-scored from (``extra["rescored_from"]``); the source run is
never modified. Items that were not scored in the source (failed requests) stay unscored.
"""

from __future__ import annotations

import datetime as dt
import secrets
import time
from pathlib import Path
from typing import Any

from harness import record as rec
from harness._context import RunContext
from harness._record_build import _finite, _score_record
from harness._scorer import Scorer
from harness.runstore import LoadedRun, build_scorer, scorer_class, to_output, to_sample


def parse_scorer(text: str, record: rec.RunRecord) -> Scorer:
    """``NAME`` or ``NAME:k=v,k2=v2`` (values read as YAML scalars) as a built scorer."""
    import yaml

    name, _, rest = text.partition(":")
    args: dict[str, Any] = {}
    for part in filter(None, rest.split(",")):
        key, eq, value = part.partition("=")
        if not eq or not key.strip():
            from harness._errors import HarnessError

            raise HarnessError(f"--scorer {text!r}: write arguments as NAME:key=value,key=value")
        args[key.strip()] = yaml.safe_load(value)
    scorer_class(name, record)  # a clear "unknown scorer ... did you mean" when misspelt
    return build_scorer({"name": name, "args": args}, record)


def rescore(
    run: LoadedRun,
    scorers: list[Scorer] | None,
    out_dir: Path,
    command: list[str],
    context: RunContext | None = None,
) -> tuple[Path, float]:
    """Scores ``run``'s stored outputs again and writes a new run folder under ``out_dir``.

    Returns:
        The new folder and the seconds spent scoring.
    """
    ctx = context or RunContext(runs_dir=None)
    built = scorers or [build_scorer(spec, run.record) for spec in run.record.scorers]
    scored = [s for s in run.samples if s.scores and not s.errors]
    samples = [to_sample(s) for s in scored]
    outputs = [to_output(s) for s in scored]
    t0 = time.perf_counter()
    per_scorer = [sc.score_all(samples, outputs, ctx) for sc in built]
    metrics: dict[str, rec.MetricRecord] = {}
    extra: dict[str, Any] = {}
    for sc, scores in zip(built, per_scorer, strict=True):
        if samples:
            for name, mv in sc.aggregate(scores, samples).items():
                metrics[name] = rec.MetricRecord(**_finite(mv.to_dict()))
            extra.update(sc.extra(scores, samples))
    seconds = time.perf_counter() - t0
    extra["rescored_from"] = {"run_id": run.record.run_id, "path": str(run.path)}
    position = {s.id: k for k, s in enumerate(scored)}
    new_samples = [
        s.model_copy(
            update={
                "scores": {
                    sc.name: _score_record(scores[position[s.id]])
                    for sc, scores in zip(built, per_scorer, strict=True)
                }
                if s.id in position
                else {}
            }
        )
        for s in run.samples
    ]
    now = dt.datetime.now(dt.timezone.utc)
    run_id = f"{run.record.run_id}-rescored-{now:%H%M%S}-{secrets.token_hex(2)}"
    record = run.record.model_copy(
        update={
            "run_id": run_id,
            "created_at": now.isoformat(timespec="seconds"),
            "scorers": [sc.spec() for sc in built],
            "metrics": metrics,
            "extra": extra,
            "command": command,
        }
    )
    folder = out_dir / run_id
    rec.write_run(folder, record, new_samples)
    return folder, seconds
