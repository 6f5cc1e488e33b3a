"""Every hook in rsu_sdk.hookspecs has a heading with its exact signature in docs/plugins.md (STYLE.md G.21)."""

from __future__ import annotations

import inspect
import re
from pathlib import Path

import pytest
from rsu_sdk import hookspecs

HEADING = re.compile(r"^###\s+`?(rsu_\w+\(.*\)\s*->\s*.+?)`?\s*$", re.MULTILINE)


def _annotation(value: object) -> str:
    if isinstance(value, str):
        return value
    return getattr(value, "__name__", repr(value))


def signature(function: object) -> str:
    """``rsu_on_objects(objects: ObjectList) -> None``, built from the hookspec itself."""
    sig = inspect.signature(function)
    params = ", ".join(f"{p.name}: {_annotation(p.annotation)}" for p in sig.parameters.values())
    return f"{function.__name__}({params}) -> {_annotation(sig.return_annotation)}"


def _hookspecs() -> dict[str, object]:
    marker = f"{hookspecs.PROJECT_NAME}_spec"
    return {n: f for n, f in vars(hookspecs).items() if n.startswith("rsu_") and hasattr(f, marker)}


@pytest.fixture(scope="module")
def documented(repo_root: Path) -> list[str]:
    return HEADING.findall((repo_root / "docs" / "plugins.md").read_text(encoding="utf-8"))


def test_there_are_hooks_to_document() -> None:
    assert signature(hookspecs.rsu_on_objects) == "rsu_on_objects(objects: ObjectList) -> None"
    assert len(_hookspecs()) >= 10


@pytest.mark.parametrize("name", sorted(_hookspecs()))
def test_hook_is_documented_with_its_exact_signature(name: str, documented: list[str]) -> None:
    expected = signature(_hookspecs()[name])
    assert expected in documented, f"docs/plugins.md needs the heading: ### {expected}"


def test_no_heading_documents_a_hook_that_does_not_exist(documented: list[str]) -> None:
    current = {signature(f) for f in _hookspecs().values()}
    stale = [h for h in documented if h not in current]
    assert stale == [], f"docs/plugins.md documents signatures that no hookspec has: {stale}"
    assert len(documented) == len(set(documented)), "a hook is documented twice"
