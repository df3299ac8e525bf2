"""Checks that LoRA adapters fit the served base model, before any generation.

An adapter trained on another base silently produces garbage (or is ignored) in most
harnesses. Here every adapter is checked up front, cheaply (no weights are loaded; module
names come from the safetensors headers of the base model):

1. **Base model**: when the adapter's manifest records the base weight hash and the served
   model's hash is known, they must be equal; otherwise the adapter's
   ``base_model_name_or_path`` must name the served model (same folder, same folder name, same
   hub id, or a known alias of the bundled model).
2. **Rank** must not exceed what the backend serves.
3. **Target modules** must exist in the base model.

The first failure raises a one-line `ModelError` naming the adapter and the reason.
"""

from __future__ import annotations

import json
import re
import struct
from collections.abc import Sequence
from pathlib import Path

from harness._errors import ModelError
from harness._models import BUNDLED_ALIASES, BUNDLED_NAME
from harness.backends._base import AdapterSpec, ModelInfo

# Names the bundled model is known by (hub id of the original, our converted folder's name).
BUNDLED_NAMES = frozenset(
    {"huggingfacetb/smollm2-135m-instruct", "smollm2-135m-instruct", "smollm2-135m-instruct-fp32"}
    | BUNDLED_ALIASES
)
# PEFT keywords meaning "every linear layer" rather than module names.
TARGET_KEYWORDS = frozenset({"all-linear", "all_linear"})


def _names(ref: str | None) -> set[str]:
    """Comparable forms of a model reference: itself, its resolved path, its last part."""
    if not ref:
        return set()
    ref = ref.strip().rstrip("/")
    forms = {ref.lower(), ref.rsplit("/", 1)[-1].lower()}
    path = Path(ref).expanduser()
    if path.exists():
        forms.add(str(path.resolve()).lower())
    if forms & BUNDLED_NAMES:
        forms |= BUNDLED_NAMES
    return forms


def base_matches(adapter: AdapterSpec, model: ModelInfo) -> str | None:
    """Why ``adapter`` does not fit ``model``'s base (None when it fits)."""
    if adapter.base_model_sha256 and model.weight_sha256:
        if adapter.base_model_sha256 == model.weight_sha256:
            return None
        return (
            f"it was trained on weights {adapter.base_model_sha256[:12]}, the served model "
            f"{model.id} has {model.weight_sha256[:12]}"
        )
    if not adapter.base_model:
        return None  # nothing recorded to compare against
    served = _names(model.id) | _names(model.path)
    if model.id == BUNDLED_NAME:
        served |= BUNDLED_NAMES
    if _names(adapter.base_model) & served:
        return None
    return f"it was trained on {adapter.base_model!r}, not on the served model {model.id!r}"


def model_module_names(model_dir: Path) -> set[str]:
    """Dotted module names of the model (from safetensors headers; no weights are read)."""
    files = sorted(Path(model_dir).glob("*.safetensors"))
    if not files:
        return set()
    modules: set[str] = set()
    for f in files:
        with open(f, "rb") as fh:
            (size,) = struct.unpack("<Q", fh.read(8))
            header = json.loads(fh.read(size))
        for key in header:
            if key != "__metadata__":
                modules.add(key.rsplit(".", 1)[0])
    return modules


def missing_targets(targets: Sequence[str], modules: set[str]) -> list[str]:
    """Targets that match no module (by last name component, dotted suffix, or regex)."""
    missing = []
    for t in targets:
        if t in TARGET_KEYWORDS:
            continue
        suffix_hit = any(m == t or m.endswith("." + t) for m in modules)
        if suffix_hit:
            continue
        try:
            regex_hit = any(re.fullmatch(t, m) for m in modules)
        except re.error:
            regex_hit = False
        if not regex_hit:
            missing.append(t)
    return missing


def check_adapters(
    adapters: Sequence[AdapterSpec], model: ModelInfo, max_rank: int | None = None
) -> None:
    """Raises `ModelError` for the first adapter that does not fit the served model.

    Args:
        adapters: The adapters about to be served.
        model: The served base model (``path`` is used to list its modules, when local).
        max_rank: Largest LoRA rank the backend can serve (None: no limit).
    """
    names = [a.name for a in adapters]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise ModelError(f"adapter name {dupes[0]!r} is given twice; name each adapter once")
    modules: set[str] | None = None
    for a in adapters:
        why = base_matches(a, model)
        if why:
            raise ModelError(f"adapter {a.name} ({a.path}) does not fit: {why}")
        if max_rank is not None and a.rank is not None and a.rank > max_rank:
            raise ModelError(
                f"adapter {a.name} has LoRA rank {a.rank}, more than this backend's maximum "
                f"{max_rank}; raise --max-lora-rank or use another backend"
            )
        if model.path and a.target_modules:
            if modules is None:
                modules = model_module_names(Path(model.path))
            gone = missing_targets(a.target_modules, modules) if modules else []
            if gone:
                raise ModelError(
                    f"adapter {a.name} targets modules {', '.join(gone)} that the served model "
                    f"{model.id} does not have; it was trained for another architecture"
                )
