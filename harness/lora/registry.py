"""The adapter registry: names for trained adapters, so ``--adapter <name>`` finds them.

``harness train`` records each adapter it writes in ``$HARNESS_HOME/adapters.json`` (name ->
folder). `find_adapter` accepts a PEFT folder path, a registered name, or the name of a folder
under ``./adapters/``; `list_adapters` reads each one's manifest for ``harness adapters``.
"""

from __future__ import annotations

import difflib
import json
from pathlib import Path
from typing import Any

from harness._cache import harness_home
from harness._errors import ModelError

LOCAL_DIR = Path("adapters")


def _registry_file() -> Path:
    return harness_home() / "adapters.json"


def _read() -> dict[str, str]:
    """The registry's entries; none when it does not exist yet.

    Raises:
        ModelError: The file is not a JSON mapping of names to folders. It is never read as
            empty, since the next registration would overwrite every name in it.
    """
    path = _registry_file()
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as e:
        problem = f"{type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}"
    else:
        if isinstance(data, dict) and all(isinstance(v, str) for v in data.values()):
            return {str(k): v for k, v in data.items()}
        problem = "not a JSON mapping of adapter names to folders"
    raise ModelError(
        f"the adapter registry {path} is corrupt ({problem}); fix it or move it aside "
        f"(`harness train` then starts a new one, and adapters can still be passed by folder)"
    )


def register_adapter(name: str, folder: Path) -> None:
    """Records ``name`` -> ``folder`` (absolute) in the registry."""
    entries = _read()
    entries[name] = str(Path(folder).resolve())
    path = _registry_file()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(entries, indent=2, sort_keys=True))
    tmp.replace(path)


def _is_adapter(folder: Path) -> bool:
    return (folder / "adapter_config.json").is_file()


def known_adapters() -> dict[str, Path]:
    """Registered adapters that still exist, plus adapter folders under ``./adapters/``."""
    found = {n: Path(p) for n, p in _read().items() if _is_adapter(Path(p))}
    if LOCAL_DIR.is_dir():
        for sub in sorted(LOCAL_DIR.iterdir()):
            if _is_adapter(sub):
                found.setdefault(sub.name, sub.resolve())
    return found


def find_adapter(name_or_path: str) -> Path:
    """The PEFT folder for a path or registered name.

    Raises:
        ModelError: Nothing matches; the message suggests close names.
    """
    path = Path(name_or_path).expanduser()
    if path.exists():
        if not _is_adapter(path):
            raise ModelError(f"{path} is not a PEFT adapter folder (no adapter_config.json)")
        return path.resolve()
    known = known_adapters()
    if name_or_path in known:
        return known[name_or_path]
    close = difflib.get_close_matches(name_or_path, list(known), n=3)
    hint = (
        f"; did you mean {', '.join(close)}?"
        if close
        else (
            f"; known: {', '.join(sorted(known))}" if known else "; train one with `harness train`"
        )
    )
    raise ModelError(f"no adapter {name_or_path!r} (not a folder, not registered){hint}")


def list_adapters() -> list[dict[str, Any]]:
    """One row per known adapter: name, path and the headline fields of its manifest."""
    rows = []
    for name, folder in sorted(known_adapters().items()):
        row: dict[str, Any] = {"name": name, "path": str(folder)}
        try:
            m = json.loads((folder / "adapter_manifest.json").read_text())
            row.update(
                base_model=m.get("base_model", {}).get("id"),
                data=m.get("data", {}).get("name"),
                created=m.get("created"),
                best_eval_loss=m.get("best_eval_loss"),
                steps=m.get("steps"),
            )
        except (OSError, ValueError):
            row.update(base_model=None, data=None, created=None, best_eval_loss=None, steps=None)
        rows.append(row)
    return rows
