"""The import order of the host's packages, and no import cycles: none between packages, none between modules
inside a package (function-local and relative imports included).

sdk -> core -> config -> assets (the model and data catalogue) -> sources / inference / fusion / publish /
privacy / kafka (broker set-up) -> pipeline -> plugins host, servers and services -> app -> cli. Tools (benchmarks, simulators,
evaluation, model toolchain, fuzzing, scaffolds) import the runtime, never the reverse, and never the cli.
"""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

import pytest

RUNTIME: dict[str, int] = {
    "__init__": 0, "core": 0, "net": 0, "logging_setup": 0,
    "config": 1,
    "assets": 2,
    "sources": 3, "inference": 3, "fusion": 3, "publish": 3, "privacy": 3, "kafka": 3,
    "pipeline": 4,
    "plugins": 5, "tiered": 5, "federated": 5, "power": 5, "metrics": 5, "web": 5,
    "app": 6,
    "cli": 8, "__main__": 8,
}
TOOLS = {"bench", "sim", "eval", "modeltools", "fuzz", "scaffold", "fedsim", "assetfetch"}
TOOLS_LAYER = 7


def layer(package: str) -> int:
    if package in TOOLS:
        return TOOLS_LAYER
    return RUNTIME[package]


def package_imports(root: Path) -> dict[tuple[str, str], set[str]]:
    """``(importer, imported)`` package pairs of ``rsu`` -> the files where the import is written."""
    edges: dict[tuple[str, str], set[str]] = defaultdict(set)
    for f in sorted(root.rglob("*.py")):
        rel = f.relative_to(root).with_suffix("")
        src = rel.parts[0]
        for node in ast.walk(ast.parse(f.read_text(encoding="utf-8"), str(f))):
            mods: list[str] = []
            if isinstance(node, ast.Import):
                mods = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                mods = [node.module]
            for m in mods:
                parts = m.split(".")
                if parts[0] == "rsu" and len(parts) > 1 and parts[1] != src:
                    edges[(src, parts[1])].add(f"rsu/{rel}.py")
    return edges


@pytest.fixture(scope="module")
def edges(repo_root: Path) -> dict[tuple[str, str], set[str]]:
    return package_imports(repo_root / "rsu")


def test_every_package_has_a_layer(repo_root: Path) -> None:
    packages = {p.stem if p.is_file() else p.name for p in (repo_root / "rsu").iterdir()
                if (p.is_dir() and (p / "__init__.py").exists()) or p.suffix == ".py"}
    assert packages - set(RUNTIME) - TOOLS == set(), "give the new package a layer in this test"


def test_imports_go_down_the_layers_only(edges: dict[tuple[str, str], set[str]]) -> None:
    bad = [f"{a} (layer {layer(a)}) imports {b} (layer {layer(b)}): {', '.join(sorted(files))}"
           for (a, b), files in sorted(edges.items()) if layer(b) > layer(a)]
    assert bad == [], "imports against the layer order:\n" + "\n".join(bad)


def test_no_import_cycles_between_packages(edges: dict[tuple[str, str], set[str]]) -> None:
    graph: dict[str, set[str]] = defaultdict(set)
    for a, b in edges:
        graph[a].add(b)
    cycles: set[tuple[str, ...]] = set()

    def walk(start: str, node: str, path: list[str]) -> None:
        for nxt in graph.get(node, ()):
            if nxt == start:
                cycles.add(tuple(sorted(path)))
            elif nxt not in path and len(path) < 6:
                walk(start, nxt, [*path, nxt])

    for start in list(graph):
        walk(start, start, [start])
    assert not cycles, "import cycles: " + "; ".join(" <-> ".join(c) for c in sorted(cycles))


def module_imports(root: Path) -> dict[str, set[str]]:
    """Module -> the modules of ``root``'s package it imports (absolute, relative and function-local imports; a
    ``from package import name`` counts as importing the submodule ``name`` where one exists)."""
    files = {_module_name(root, f): f for f in sorted(root.rglob("*.py"))}
    graph: dict[str, set[str]] = defaultdict(set)
    for mod, f in files.items():
        package = mod.split(".") if f.name == "__init__.py" else mod.split(".")[:-1]
        for node in ast.walk(ast.parse(f.read_text(encoding="utf-8"), str(f))):
            targets: list[str] = []
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = ".".join([*package[:len(package) - node.level + 1], *([node.module] if node.module else [])]) \
                    if node.level else (node.module or "")
                targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in files else base for a in node.names]
            for target in targets:
                while target and target not in files:
                    target = target.rpartition(".")[0]
                if target and target != mod:
                    graph[mod].add(target)
    return graph


def _module_name(root: Path, f: Path) -> str:
    parts = list(f.relative_to(root.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def module_cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected groups of more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    for root_node in sorted(graph):
        if root_node in index:
            continue
        work = [(root_node, iter(sorted(graph.get(root_node, ()))))]
        index[root_node] = low[root_node] = len(index)
        stack.append(root_node)
        on_stack.add(root_node)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph.get(child, ())))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                group = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    group.append(member)
                    if member == node:
                        break
                if len(group) > 1:
                    found.append(sorted(group))
    return found


def test_no_import_cycles_between_modules(repo_root: Path) -> None:
    cycles = module_cycles(module_imports(repo_root / "rsu"))
    assert cycles == [], "import cycles between modules: " + "; ".join(" <-> ".join(c) for c in cycles)


def test_the_module_checker_sees_cycles_inside_a_package(tmp_path: Path) -> None:
    pkg = tmp_path / "rsu" / "inference"
    pkg.mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "seal.py").write_text("from rsu.inference.session import open_session\n")
    (pkg / "session.py").write_text("def f():\n    from . import seal\n")
    (pkg / "other.py").write_text("from .session import f\n")
    assert module_cycles(module_imports(tmp_path / "rsu")) == [["rsu.inference.seal", "rsu.inference.session"]]


def test_the_checker_sees_function_local_imports(tmp_path: Path) -> None:
    pkg = tmp_path / "rsu"
    (pkg / "core").mkdir(parents=True)
    (pkg / "core" / "x.py").write_text("def f():\n    from rsu.app.box import Box\n")
    assert package_imports(pkg) == {("core", "app"): {"rsu/core/x.py"}}


def test_the_source_type_table_exists_once() -> None:
    """The host's own source types come through rsu_register_sources (the built-in plugin), one per config model."""
    from rsu.config.sources import BUILTIN_SOURCE_TYPES
    from rsu.plugins.manager import create_plugin_manager
    from rsu.plugins.registry import collect_sources

    table = collect_sources(create_plugin_manager([]).pm)
    assert set(BUILTIN_SOURCE_TYPES) <= set(table)
    assert all(table[k].build is not None for k in BUILTIN_SOURCE_TYPES)
    assert {k for k in BUILTIN_SOURCE_TYPES if table[k].readings} == {"sensor_replay", "air_station"}
