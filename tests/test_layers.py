"""The import order of the host's packages, and no cycles between them (function-local imports included).

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


def test_the_checker_sees_function_local_imports(tmp_path: Path) -> None:
    pkg = tmp_path / "rsu"
    (pkg / "core").mkdir(parents=True)
    (pkg / "core" / "x.py").write_text("def f():\n    from rsu.app.host import Box\n")
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
