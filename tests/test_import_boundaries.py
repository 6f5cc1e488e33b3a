"""Plugins and the SDK import ``rsu_sdk`` only, never the host package ``rsu`` (STYLE.md A.2)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

FORBIDDEN = "rsu"


def host_imports(source: str, filename: str = "<string>") -> list[str]:
    """``file:line: statement`` for every import of ``rsu`` or ``rsu.*`` (also via importlib / __import__)."""
    found = []

    def bad(name: str | None) -> bool:
        return name is not None and (name == FORBIDDEN or name.startswith(FORBIDDEN + "."))

    for node in ast.walk(ast.parse(source, filename)):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0:
            names = [node.module or ""]
        elif isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant):
            func = node.func
            called = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            if called in ("import_module", "__import__") and isinstance(node.args[0].value, str):
                names = [node.args[0].value]
        found += [f"{filename}:{node.lineno}: imports {n}" for n in names if bad(n)]
    return found


def _python_files(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*.py") if "__pycache__" not in p.parts and ".venv" not in p.parts)


@pytest.mark.parametrize("source, expected", [
    ("import rsu", 1), ("import rsu.config as c", 1), ("from rsu.plugins import host", 1), ("from rsu import x", 1),
    ("importlib.import_module('rsu.app')", 1), ("__import__('rsu')", 1),
    ("import rsu_sdk", 0), ("from rsu_sdk.types import Frame", 0), ("from . import rsu", 0),
    ("import rsu_traffic_broadcast.codec", 0), ("import numpy as rsu", 0),
])
def test_the_checker_itself(source: str, expected: int) -> None:
    assert len(host_imports(source)) == expected


def test_plugins_import_only_the_sdk(repo_root: Path) -> None:
    files = _python_files(repo_root / "plugins")
    problems = [p for f in files for p in host_imports(f.read_text(encoding="utf-8"), str(f.relative_to(repo_root)))]
    assert problems == [], "plugins must import rsu_sdk, never rsu:\n" + "\n".join(problems)


def test_the_sdk_does_not_import_the_host(repo_root: Path) -> None:
    files = _python_files(repo_root / "sdk" / "rsu_sdk")
    assert any(f.name == "hookspecs.py" for f in files)
    problems = [p for f in files for p in host_imports(f.read_text(encoding="utf-8"), str(f.relative_to(repo_root)))]
    assert problems == [], "rsu_sdk must not import rsu:\n" + "\n".join(problems)
