"""The dependency direction of STYLE.md, checked by walking every import.

Every ``import`` and ``from ... import`` in ``harness``, ``tasks``, ``judges`` and ``adapters``
counts: at module level or inside a function, absolute or relative, and
``from harness import _data`` (a module named in the import list) as an import of
``harness._data``.

- The engine (``harness``, except the CLI on top) never imports ``tasks``, ``judges`` or
  ``adapters``: it finds them by registry name.
- ``tasks``, ``judges`` and ``adapters`` use only harness's public modules: no
  ``harness._private`` or ``harness.pkg._private``, in either import form.
- The run record (``harness/record.py``) depends on nothing else of ours.
- No two of our modules import each other, directly or through others (no cycles).
- Settings at the edge: harness's environment variables (``HARNESS_*``, ``OPENAI_BASE_URL``,
  ``XDG_CACHE_HOME``) are read only by ``harness/cli/`` and `harness._settings.settings_from_env`
  (``os.environ.get(NAME)``, ``os.environ[NAME]``, ``os.getenv(NAME)``, ``NAME in os.environ``,
  on ``os.environ`` or any mapping, the name written out or held in a constant).

How the module graph for the cycle check is built, following what Python executes:

- ``import a.b.c`` and ``from a.b.c import x`` depend on module ``a.b.c``; ``from a.b import c``
  depends on ``a.b.c`` when that is a module.
- A name imported from a package (``from harness import get_task``) depends on the module that
  defines it: the package's ``__init__`` re-exports are followed (``from X import name`` lines
  and a ``_LAZY`` table of lazily loaded names), so a re-exporting ``__init__`` is not itself
  an edge target for that name. The modules of a ``_LAZY`` table are imports of the package
  that holds it (its ``__getattr__`` imports them on first use).
- Importing a module also runs the ``__init__`` of each package around it, so those packages
  are edges too, except the packages around the importing module itself (Python has already
  started them). A name that an enclosing package's ``__init__`` defines itself is an edge
  to that ``__init__``, though: it must have run far enough to define the name.

A cycle in that graph fails the test, listing its modules: at best an import-order hazard, at
worst the lazy-import workarounds that hide one.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from functools import cache
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("harness", "tasks", "judges", "adapters")
PLUGINS = {"tasks", "judges", "adapters"}


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES: dict[str, Path] = {
    _module_name(p): p for pkg in PACKAGES for p in sorted((ROOT / pkg).rglob("*.py"))
}


def _is_package(module: str) -> bool:
    return MODULES.get(module, Path()).name == "__init__.py"


def _import_statements(module: str) -> Iterator[tuple[str, str | None]]:
    """(module, imported name or None) for every import in ``module``, relative ones resolved."""
    tree = ast.parse(MODULES[module].read_text(encoding="utf-8"))
    here = module if _is_package(module) else module.rpartition(".")[0]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, None
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = ".".join(here.split(".")[: len(here.split(".")) - node.level + 1])
                source = f"{base}.{node.module}" if node.module else base
            else:
                source = node.module or ""
            for alias in node.names:
                yield source, alias.name


@cache
def _exports(package: str) -> dict[str, str]:
    """Name -> module that defines it, for the names a package's ``__init__`` re-exports."""
    out: dict[str, str] = {}
    tree = ast.parse(MODULES[package].read_text(encoding="utf-8"))
    for node in tree.body:  # module level only: these make the package's surface
        if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            for alias in node.names:
                out[alias.asname or alias.name] = _defining_module(node.module, alias.name)
        elif (
            isinstance(node, ast.Assign)
            and any(isinstance(t, ast.Name) and t.id == "_LAZY" for t in node.targets)
            and isinstance(node.value, ast.Dict)
        ):
            for k, v in zip(node.value.keys, node.value.values, strict=True):
                if isinstance(k, ast.Constant) and isinstance(v, ast.Constant):
                    out[str(k.value)] = _defining_module(str(v.value), str(k.value))
    return out


def _defining_module(source: str, name: str | None) -> str:
    """The module that ``from source import name`` (or ``import source``) depends on."""
    if name is None:
        return source
    if f"{source}.{name}" in MODULES:
        return f"{source}.{name}"
    if _is_package(source):
        return _exports(source).get(name, source)
    return source


def _enclosing(module: str) -> list[str]:
    parts = module.split(".")
    return [".".join(parts[:i]) for i in range(1, len(parts))]


@cache
def _graph() -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {}
    for module in MODULES:
        own = set(_enclosing(module)) | ({module} if _is_package(module) else set())
        deps: set[str] = set()
        for source, name in _import_statements(module):
            target = _defining_module(source, name)
            around = {*_enclosing(target), *([source] if name is not None else [])}
            deps |= {m for m in around if m in MODULES and m not in own}
            if target in MODULES:  # even a name defined in the importer's own package
                deps.add(target)
        if _is_package(module):  # what `__getattr__` imports from the `_LAZY` table
            deps |= {m for m in _exports(module).values() if m in MODULES and m not in own}
        graph[module] = deps - {module}
    return graph


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def _imported_modules(module: str) -> list[str]:
    """Every module of ours or others that ``module`` names in an import (names resolved to
    modules where they are modules, so ``from harness import _data`` is ``harness._data``)."""
    out = {
        f"{source}.{name}" if f"{source}.{name}" in MODULES else source
        for source, name in _import_statements(module)
    }
    return sorted(out)


def _in(package: str) -> list[str]:
    return [m for m in MODULES if m.split(".")[0] == package]


@pytest.mark.parametrize("module", [m for m in _in("harness") if not m.startswith("harness.cli")])
def test_engine_does_not_import_plugins(module: str) -> None:
    bad = [m for m in _imported_modules(module) if m.split(".")[0] in PLUGINS]
    assert not bad, f"{module} imports {bad}"


@pytest.mark.parametrize("module", _in("tasks") + _in("judges") + _in("adapters"))
def test_plugins_use_public_api_only(module: str) -> None:
    bad = [
        m
        for m in _imported_modules(module)
        if m.split(".")[0] == "harness" and any(p.startswith("_") for p in m.split(".")[1:])
    ]
    assert not bad, f"{module} imports private modules {bad}"


def test_record_depends_on_nothing_of_ours() -> None:
    mods = _imported_modules("harness.record")
    assert not [m for m in mods if m.split(".")[0] in PACKAGES]


def test_no_import_cycles() -> None:
    cycles = _cycles(_graph())
    assert not cycles, "import cycles: " + "; ".join(" <-> ".join(c) for c in cycles)


def test_the_graph_sees_every_import_form() -> None:
    """The graph builder itself: function-level, relative, re-exported and lazy names."""
    g = _graph()
    assert "harness.yaml_task" in g["harness._loader"]  # imported inside get_task
    assert "harness._loader" in g["adapters.data"]  # `from harness import get_task`
    assert "harness.runstore._runset" in g["harness"]  # through _LAZY
    assert "harness.lora" in g["harness.backends.hf"]  # the package around lora._checks
    assert "harness" not in g["harness._runner"]  # its own package: already running
    assert "harness.record" in _imported_modules("harness._runner")  # `from harness import record`


SETTINGS_READER = ("harness._settings", "settings_from_env")


def _is_setting(name: object) -> bool:
    return isinstance(name, str) and (
        name.startswith("HARNESS_") or name in ("OPENAI_BASE_URL", "XDG_CACHE_HOME")
    )


def _environ_names(tree: ast.AST) -> set[str]:
    """``environ`` and the names assigned an expression that holds ``os.environ``
    (``env = os.environ if given is None else given``): copies read like the real thing."""
    names = {"environ"}
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign) and any(_is_os_environ(n) for n in ast.walk(node.value)):
            names.update(t.id for t in node.targets if isinstance(t, ast.Name))
    return names


def _is_os_environ(node: ast.AST) -> bool:
    return (
        isinstance(node, ast.Attribute)
        and node.attr == "environ"
        and isinstance(node.value, ast.Name)
        and node.value.id == "os"
    )


def _env_key(node: ast.AST, environ: set[str]) -> ast.expr | None:
    """The key of an environment read: ``E.get(K)`` (also ``pop``, ``setdefault``),
    ``getenv(K)``, ``E[K]`` or ``K in E``, where ``E`` is ``os.environ`` or a name in
    ``environ``; None when ``node`` is no such read."""

    def is_env(e: ast.AST) -> bool:
        return _is_os_environ(e) or (isinstance(e, ast.Name) and e.id in environ)

    if isinstance(node, ast.Call) and node.args:
        f = node.func
        if isinstance(f, ast.Attribute) and f.attr in ("get", "pop", "setdefault"):
            return node.args[0] if is_env(f.value) else None
        if (isinstance(f, ast.Attribute) and f.attr == "getenv") or (
            isinstance(f, ast.Name) and f.id == "getenv"
        ):
            return node.args[0]
    if isinstance(node, ast.Subscript) and is_env(node.value):
        return node.slice
    if isinstance(node, ast.Compare) and any(is_env(c) for c in node.comparators):
        return node.left
    return None


def _setting_reads(source: str, constants: dict[str, object]) -> list[tuple[int, str, str]]:
    """(line, enclosing function, variable) of every read of a harness setting in ``source``;
    a key held in a module constant (or one of ``constants``, say imported) is resolved."""
    tree = ast.parse(source)
    known = dict(constants)
    for stmt in tree.body:
        if isinstance(stmt, ast.Assign) and isinstance(stmt.value, ast.Constant):
            known.update({t.id: stmt.value.value for t in stmt.targets if isinstance(t, ast.Name)})
    found: list[tuple[int, str, str]] = []
    environ = _environ_names(tree)

    def walk(node: ast.AST, function: str) -> None:
        for child in ast.iter_child_nodes(node):
            inner = child.name if isinstance(child, ast.FunctionDef) else function
            key = _env_key(child, environ)
            if key is not None:
                value = key.value if isinstance(key, ast.Constant) else None
                if isinstance(key, ast.Name):
                    value = known.get(key.id)
                if _is_setting(value):
                    found.append((child.lineno, function, str(value)))
            walk(child, inner)

    walk(tree, "")
    return found


def _settings_constants() -> dict[str, object]:
    source = MODULES["harness._settings"].read_text()
    out: dict[str, object] = {}
    for stmt in ast.parse(source).body:
        if isinstance(stmt, ast.Assign) and isinstance(stmt.value, ast.Constant):
            out.update({t.id: stmt.value.value for t in stmt.targets if isinstance(t, ast.Name)})
    return out


@pytest.mark.parametrize("module", [m for m in MODULES if not m.startswith("harness.cli")])
def test_settings_are_read_at_the_edge_only(module: str) -> None:
    reads = _setting_reads(MODULES[module].read_text(), _settings_constants())
    bad = [r for r in reads if (module, r[1]) != SETTINGS_READER]
    assert not bad, (
        f"{module} reads harness settings from the environment at "
        + ", ".join(f"line {line} ({name})" for line, _, name in bad)
        + ": take them from current_settings(), the RunContext or an argument"
    )


def test_the_environment_rule_sees_every_read_form() -> None:
    """The checker itself: each form is caught, the one reader is where the reads are."""
    snippet = """
import os
from os import environ, getenv
KEY = "HARNESS_HOME"
a = os.environ.get("HARNESS_CACHE")
def f():
    b = os.environ["OPENAI_BASE_URL"]
    c = os.getenv(KEY)
    d = "XDG_CACHE_HOME" in os.environ
    e = environ.get(CACHE_ENV)
    g = getenv("HARNESS_DATA_DIR")
    h = os.environ.get("PATH")
    env = dict(os.environ)
    i = env.get(KEY)
    j = {KEY: 1}.get(KEY)
"""
    reads = _setting_reads(snippet, {"CACHE_ENV": "HARNESS_CACHE"})
    assert [(line, fn) for line, fn, _ in reads] == [(5, ""), (7, "f"), (8, "f"), (9, "f"),
                                                     (10, "f"), (11, "f"), (14, "f")]  # fmt: skip
    real = _setting_reads(MODULES["harness._settings"].read_text(), _settings_constants())
    assert {fn for _, fn, _ in real} == {SETTINGS_READER[1]}
