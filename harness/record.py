"""The on-disk run record: ``runs/<run-id>/run.json`` and ``samples.jsonl``.

This module depends on nothing else in harness, so the format outlives refactors of the
engine. Every field is documented; ``schema_version`` is bumped on any incompatible change and
readers refuse versions they do not know.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError

SCHEMA_VERSION = 1
M = TypeVar("M", bound=BaseModel)


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class HarnessInfo(_Model):
    version: str = Field(description="harness package version")
    git_sha: str | None = Field(None, description="commit of the harness checkout, if any")
    git_dirty: bool | None = Field(None, description="uncommitted changes in that checkout")


class TaskInfo(_Model):
    name: str = Field(description="registry name of the task")
    version: str = Field(description="task version; changes when results would change")
    params: dict[str, Any] = Field(default_factory=dict, description="task factory arguments")
    prompt_sha256: str = Field(description="sha256 of the task's prompt template")
    mode: str = Field("generate", description="'generate' or 'loglikelihood'")
    categories: str | None = Field(
        None,
        description="sample metadata key naming each item's category; metrics are then also "
        "reported as METRIC@CATEGORY (and METRIC_macro)",
    )
    primary_metrics: list[str] = Field(
        default_factory=list,
        description="the metrics the task names as its headline numbers (report: shown first)",
    )


class DatasetRecord(_Model):
    name: str
    source: str = Field(description="'local', 'hub' or 'package'")
    location: str = Field(description="folder, file, hub id or package resource")
    split: str
    revision: str | None = Field(None, description="hub revision, when loaded from the hub")
    files: dict[str, str] = Field(default_factory=dict, description="file name -> sha256")
    n_total: int = Field(description="items in the split before --limit")
    n_evaluated: int = Field(description="items evaluated")
    limit: int | float | None = Field(None, description="--limit: first N items or a fraction")
    sample: int | float | None = Field(
        None, description="--sample: a seeded random subset of N items (or a fraction)"
    )
    seed: int = Field(description="seed for few-shot selection and item sampling")
    ids: list[str] | None = Field(
        None, description="ids of the evaluated items when --limit or --sample chose a subset"
    )


class Fingerprint(_Model):
    """What a run evaluated, beyond the task's name: runs of one task with different
    fingerprints measured different things and are never merged (e.g. in a leaderboard)."""

    digest: str = Field(description="short sha256 over the fields below")
    data_files: dict[str, str] = Field(
        default_factory=dict, description="data file name -> sha256 of every local file read"
    )
    data_source: str | None = Field(
        None, description="hub id @ revision (or package resource) when no local file was read"
    )
    task_file: str | None = Field(None, description="YAML file of a user-defined task")
    task_file_sha256: str | None = Field(None, description="sha256 of that file")
    task_params: dict[str, Any] = Field(
        default_factory=dict, description="task parameters given (-T key=value, --num-fewshot)"
    )


class AdapterRecord(_Model):
    name: str = Field(description="name the adapter was served or registered under")
    path: str | None = None
    sha256: str | None = Field(None, description="sha256 of the adapter weights")
    base_model: str | None = Field(None, description="base model named in adapter_config.json")
    rank: int | None = None


class ModelRecord(_Model):
    id: str = Field(description="model id as given (hub id, path or bundled name)")
    path: str | None = Field(None, description="local folder the weights were loaded from")
    weight_sha256: str | None = Field(None, description="sha256 over the weight files")
    weights_hash_s: float | None = Field(
        None, description="seconds spent identifying the weights (hub blob names, memo or hashing)"
    )
    backend: str = Field(description="backend registry name")
    dtype: str | None = None
    device: str | None = None
    chat_template: bool = Field(description="whether prompts went through the chat template")
    adapter: AdapterRecord | None = Field(None, description="None for the base model")
    engine: dict[str, Any] = Field(
        default_factory=dict,
        description="scale-out settings: `engine_args` (vLLM engine arguments given with "
        "--tensor-parallel-size, --engine-arg ...), `ray` (address, replicas, replica_gpus) and "
        "`warm_server` (the URL of a `harness serve start` server the run reused)",
    )


class GenerationRecord(_Model):
    max_new_tokens: int
    temperature: float
    top_p: float
    stop: list[str]
    n: int = Field(description="completions per item")
    seed: int
    batch_size: int | None = None
    system_prompt: str | None = Field(
        None, description="--system-prompt given to every item (chat turns: the system turn)"
    )


class MetricRecord(_Model):
    value: float | None
    stderr: float | None = None
    ci_low: float | None = Field(None, description="lower end of the 95% interval")
    ci_high: float | None = Field(None, description="upper end of the 95% interval")
    n: int = 0
    method: str = Field("none", description="interval method: wilson, normal, bootstrap, none")


class Counts(_Model):
    samples: int = Field(description="items scored")
    requests: int = Field(description="model requests the run needed")
    cache_hits: int = Field(description="requests answered from the request cache")
    model_calls: int = Field(description="requests sent to the model in this invocation")
    errors: int = Field(0, description="requests that failed after retries")


class Timing(_Model):
    wall_s: float = Field(description="wall time of the whole run")
    model_s: float = Field(description="time spent waiting for the model")
    tokens_in: int = 0
    tokens_out: int = 0
    tokens_per_s: float | None = Field(None, description="generated tokens per model second")
    items_per_s: float | None = None
    engine_start_s: float | None = Field(
        None,
        description="seconds the engine took to start (vLLM engine, Ray replicas), part of "
        "the set-up before the first request and not of wall_s",
    )
    setup_s: float | None = Field(
        None,
        description="seconds from the process start to the first request, engine start "
        "excluded: imports, model and tokenizer loading, data, adapters (the process's, on "
        "every variant it ran)",
    )


class Usage(_Model):
    """Tokens spent by one variant, and what they cost when a price is configured."""

    model_tokens_in: int = Field(
        0,
        description="prompt tokens of the model requests (log-likelihood requests: the scored "
        "continuation tokens, as far as the backend reports them)",
    )
    model_tokens_out: int = Field(
        0, description="generated tokens of the model requests (thinking and answer)"
    )
    model_reasoning_tokens: int | None = Field(
        None,
        description="of model_tokens_out, the tokens inside thinking blocks (None: no "
        "generation requests); model_tokens_out minus this is the answer tokens",
    )
    reasoning_tokens_method: str | None = Field(
        None,
        description="how thinking tokens were counted: server (the endpoint's count), "
        "tokenizer, estimate (share of characters), mixed or none",
    )
    # Filled by judge scorers (LLM-as-judge, RAGAS); None when the run had no judge calls.
    judge_tokens_in: int | None = Field(None, description="prompt tokens of judge calls")
    judge_tokens_out: int | None = Field(None, description="generated tokens of judge calls")
    judge_calls: int | None = Field(
        None, description="requests the LLM-as-judge scorers sent (cache hits excluded)"
    )
    # Filled by the RAGAS scorers: their own judge calls (statement extraction, verdicts, ...).
    ragas_calls: int | None = Field(
        None, description="requests RAGAS sent to its judge LLM (cache hits excluded)"
    )
    ragas_tokens_in: int | None = Field(None, description="prompt tokens of RAGAS's calls")
    ragas_tokens_out: int | None = Field(None, description="generated tokens of RAGAS's calls")
    price_per_1k_in: float | None = Field(None, description="--price-per-1k-tokens, input")
    price_per_1k_out: float | None = Field(None, description="--price-per-1k-tokens, output")
    cost: float | None = Field(
        None,
        description="estimated cost of the model tokens at those prices (every request of the "
        "run, cached answers included: what the evaluation costs from scratch)",
    )
    reasoning_cost: float | None = Field(
        None, description="the part of cost spent on thinking tokens (priced as output)"
    )


class PromptingRecord(_Model):
    """How prompts were shaped and rendered (`harness._prompting`, chat-template options)."""

    chat_template_kwargs: dict[str, Any] = Field(
        default_factory=dict, description="--chat-template-kwargs given to the chat template"
    )
    fewshot_as_multiturn: bool = Field(
        False, description="exemplars as alternating user/assistant turns (else one user turn)"
    )
    system_merged: bool = Field(
        False,
        description="the chat template rejects a system role: the system text went into the "
        "first user turn",
    )
    truncate_prompt: str | None = Field(
        None, description="--truncate-prompt: 'left', or None (too-long prompts are errors)"
    )
    context_length: int | None = Field(None, description="the backend's context window")
    truncated_ids: list[str] = Field(
        default_factory=list, description="items whose prompt was cut from the left"
    )
    too_long_ids: list[str] = Field(
        default_factory=list, description="items not sent: prompt too long (errors)"
    )


class ReasoningRecord(_Model):
    """How outputs were split into thinking and answer (`harness.reasoning`)."""

    markers: list[str] | None = Field(
        None, description="start and end marker the outputs were split at (None: not split)"
    )
    source: str = Field(
        description="where the markers came from: flag (--reasoning-markers), task, model, "
        "chat template, off (--no-reasoning-split) or none"
    )
    completions: int = Field(0, description="answered completions")
    with_reasoning: int = Field(0, description="completions that had thinking")
    truncated: int = Field(
        0, description="completions whose thinking never closed (empty answer, never matched)"
    )
    server_split: int = Field(
        0, description="completions whose thinking the server returned apart (reasoning_content)"
    )
    length_cut: int = Field(0, description="completions that stopped at max_new_tokens")


class HostInfo(_Model):
    platform: str
    python: str
    cpu_count: int | None = None
    torch: str | None = None
    gpu: str | None = None
    packages: dict[str, str] = Field(default_factory=dict, description="versions of key libraries")


class ContaminationRecord(_Model):
    """An adapter's training data checked against the run's items (`harness.contamination`)."""

    status: str = Field(
        description="'checked'; 'unchecked' (the training data its manifest names could not be "
        "read as it was trained on); 'unknown' (no record of its training data). Neither of "
        "the last two is ever taken as clean"
    )
    reason: str | None = Field(None, description="why it is unchecked or unknown")
    training: str = Field("", description="the training data, in a few words")
    training_fingerprint: str | None = None
    n: int = Field(0, description="items checked")
    flagged: list[str] = Field(default_factory=list, description="ids of contaminated items")
    ngram_flagged: int = Field(0, description="items with an n-gram in the training data")
    near_duplicate_flagged: int = Field(0, description="items near-duplicated in training data")
    untestable: int = Field(0, description="items too short for either test")
    settings: dict[str, Any] = Field(default_factory=dict, description="n, shingle, threshold")
    seconds: float = 0.0


class RunRecord(_Model):
    """Everything needed to understand, reproduce and re-score one run."""

    schema_version: int = Field(SCHEMA_VERSION, description="version of this format")
    run_id: str
    group_id: str | None = Field(None, description="shared by runs on identical items (pairable)")
    created_at: str = Field(description="ISO-8601 UTC start time")
    status: str = Field(
        "complete",
        description="'complete' (every request answered and scored) or 'incomplete' (failed "
        "requests, listed per sample in samples.jsonl, were not scored; older runs say 'partial')",
    )
    scorer_problems: list[str] = Field(
        default_factory=list,
        description="why a scorer's results leave the run incomplete (e.g. a judge whose "
        "parse-failure rate exceeds --max-judge-failures)",
    )
    harness: HarnessInfo
    task: TaskInfo
    dataset: DatasetRecord
    fingerprint: Fingerprint | None = Field(
        None, description="what was evaluated (data, task file, parameters); None in old runs"
    )
    model: ModelRecord
    generation: GenerationRecord
    scorers: list[dict[str, Any]] = Field(default_factory=list, description="name + args each")
    metrics: dict[str, MetricRecord] = Field(default_factory=dict)
    extra: dict[str, Any] = Field(default_factory=dict, description="e.g. confusion matrices")
    counts: Counts
    timing: Timing
    usage: Usage = Field(default_factory=Usage, description="tokens and estimated cost")
    reasoning: ReasoningRecord | None = Field(
        None, description="the reasoning split of a generation task (None: log-likelihood)"
    )
    prompting: PromptingRecord | None = Field(
        None, description="prompt shaping and chat-template settings (None: older runs)"
    )
    host: HostInfo
    command: list[str] = Field(default_factory=list, description="argv that produced the run")
    contamination: ContaminationRecord | None = Field(
        None, description="adapter runs: the training data checked against the items"
    )


class ScoreRecord(_Model):
    values: dict[str, float | None]
    answer: Any = None
    explanation: str | None = None
    metadata: dict[str, Any] = Field(default_factory=dict)


class SampleRecord(_Model):
    """One line of ``samples.jsonl``."""

    id: str
    prompt: Any = Field(description="the rendered prompt sent to the model (text or messages)")
    outputs: list[str] = Field(
        default_factory=list,
        description="the completions as scored: the answers, after the reasoning split",
    )
    raw_outputs: list[str] | None = Field(
        None, description="the completions as generated, thinking included (None: not split)"
    )
    reasoning: list[str | None] | None = Field(
        None, description="per completion, its thinking (None: it had none)"
    )
    output_metrics: dict[str, float] = Field(
        default_factory=dict,
        description="per-item reasoning_truncated_rate and length_cut_rate over its completions",
    )
    turn_outputs: list[list[str]] | None = Field(
        None, description="multi-turn items: per completion, the answer to every turn"
    )
    user_turns: list[str] | None = Field(
        None,
        description="the task's user turns (the question, then each follow-up), unrendered: "
        "what a pairwise judge is shown",
    )
    choice_logprobs: list[float] | None = None
    target: Any = None
    scores: dict[str, ScoreRecord] = Field(default_factory=dict, description="per scorer")
    errors: list[str] = Field(default_factory=list)
    tokens_in: int = 0
    tokens_out: int = 0
    metadata: dict[str, Any] = Field(default_factory=dict)
    contaminated: bool | None = Field(
        None, description="in the adapter's training data (None: no adapter, or unchecked)"
    )
    contamination: dict[str, Any] | None = Field(
        None, description="both tests' details: ngram, near_duplicate, ngram_hits, jaccard, match"
    )


def dump_json(model: BaseModel, indent: int | None = None) -> str:
    """``model.model_dump_json``, keeping text that UTF-8 cannot hold.

    A model's reply can hold a lone surrogate (``"\\ud800"``, from a tokenizer splitting a
    character); pydantic refuses to encode it. Such a record is written with JSON's
    ``\\uXXXX`` escapes instead (ASCII, valid UTF-8), which `load_json` reads back unchanged.
    """
    from pydantic_core import PydanticSerializationError

    try:
        return model.model_dump_json(indent=indent)
    except PydanticSerializationError:
        data = _finite_or_none(model.model_dump(mode="json"))
        return json.dumps(data, ensure_ascii=True, indent=indent, allow_nan=False)


def load_json(cls: type[M], text: str) -> M:
    """Validates ``text`` as ``cls``; also reads the surrogate escapes `dump_json` writes."""
    try:
        return cls.model_validate_json(text)
    except ValidationError as e:
        if not any(err["type"] == "json_invalid" for err in e.errors()):
            raise
        return cls.model_validate(json.loads(text))


def _finite_or_none(value: Any) -> Any:
    """NaN and infinities as None, as pydantic's JSON writes them."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _finite_or_none(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_finite_or_none(v) for v in value]
    return value


def write_run(folder: Path, record: RunRecord, samples: list[SampleRecord]) -> None:
    """Writes ``run.json`` and ``samples.jsonl`` atomically into ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    tmp = folder / "samples.jsonl.tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        f.writelines(dump_json(s) + "\n" for s in samples)
    tmp.replace(folder / "samples.jsonl")
    tmp = folder / "run.json.tmp"
    tmp.write_text(dump_json(record, indent=2), encoding="utf-8")
    tmp.replace(folder / "run.json")


def read_run(folder: Path) -> RunRecord:
    """Reads ``run.json`` from a run folder (or the file itself)."""
    path = folder if folder.is_file() else folder / "run.json"
    data = json.loads(path.read_text(encoding="utf-8"))
    version = data.get("schema_version")
    if version != SCHEMA_VERSION:
        raise ValueError(
            f"{path}: schema_version {version} is not supported (expected {SCHEMA_VERSION})"
        )
    return RunRecord.model_validate(data)


def read_samples(folder: Path) -> list[SampleRecord]:
    """Reads ``samples.jsonl`` from a run folder."""
    path = folder / "samples.jsonl"
    with open(path, encoding="utf-8") as f:
        return [load_json(SampleRecord, line) for line in f if line.strip()]
