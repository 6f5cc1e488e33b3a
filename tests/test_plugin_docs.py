"""docs/plugins.md documents the whole SDK: every hook with its exact signature (STYLE.md G.21), every
public field of every exported type with its allowed values, the product table and the topic rule."""

from __future__ import annotations

import dataclasses
import inspect
import re
import typing
from pathlib import Path

import pytest
import rsu_sdk
import rsu_sdk.types
from rsu_sdk import hookspecs, topics
from rsu_sdk.payloads import PRODUCT_OF

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


# -- the type reference: every public field of every SDK type (issue 13) ------------------------------------

TYPE_HEADING = re.compile(r"^###\s+`(\w+)`\s*$", re.MULTILINE)
ROW = re.compile(r"^\|\s*`(\w+)`\s*\|(.*)$", re.MULTILINE)


def _sdk_types() -> dict[str, type]:
    """Every dataclass ``rsu_sdk`` exports (products, records, context)."""
    return {n: getattr(rsu_sdk, n) for n in rsu_sdk.__all__
            if isinstance(getattr(rsu_sdk, n), type) and dataclasses.is_dataclass(getattr(rsu_sdk, n))}


def _public_attributes(cls: type) -> list[str]:
    """Dataclass fields and public properties."""
    props = [k for k, v in vars(cls).items() if isinstance(v, property) and not k.startswith("_")]
    return [f.name for f in dataclasses.fields(cls) if not f.name.startswith("_")] + props


def _public_methods(cls: type) -> list[str]:
    """Public methods, class methods and static methods defined on the class itself."""
    return [k for k, v in vars(cls).items()
            if not k.startswith("_") and (isinstance(v, (classmethod, staticmethod)) or inspect.isfunction(v))]


def _literal_values(cls: type, name: str) -> tuple[str, ...]:
    """The allowed values of a field annotated with one of the SDK's Literal aliases (else empty)."""
    annotation = next((f.type for f in dataclasses.fields(cls) if f.name == name), None)
    alias = getattr(rsu_sdk.types, str(annotation), None)
    return typing.get_args(alias) if typing.get_origin(alias) is typing.Literal else ()


@pytest.fixture(scope="module")
def type_sections(repo_root: Path) -> dict[str, str]:
    text = (repo_root / "docs" / "plugins.md").read_text(encoding="utf-8")
    reference = text[text.index("## Type reference"):]
    marks = list(TYPE_HEADING.finditer(reference))
    return {m.group(1): reference[m.end():marks[i + 1].start() if i + 1 < len(marks) else len(reference)]
            for i, m in enumerate(marks)}


def test_there_are_types_to_document() -> None:
    assert {"FusedObject", "Detections", "Alarm", "ActuationCommand", "PluginContext", "SiteInfo"} <= set(_sdk_types())
    assert _literal_values(rsu_sdk.FusedObject, "class_name") == rsu_sdk.OBJECT_CLASSES
    assert "speed_mps" in _public_attributes(rsu_sdk.FusedObject)
    assert {"merge", "empty"} <= set(_public_methods(rsu_sdk.Detections))


@pytest.mark.parametrize("name", sorted(_sdk_types()))
def test_every_public_field_of_every_sdk_type_is_documented(name: str, type_sections: dict[str, str]) -> None:
    cls = _sdk_types()[name]
    assert name in type_sections, f"docs/plugins.md needs a heading ### `{name}` under '## Type reference'"
    rows = {m.group(1): m.group(2) for m in ROW.finditer(type_sections[name])}
    fields = _public_attributes(cls)
    assert [f for f in fields if f not in rows] == [], f"{name}: fields missing from its table"
    assert [r for r in rows if r not in fields] == [], f"{name}: the table documents fields the type lacks"
    for field in fields:
        cells = [c.strip() for c in rows[field].split("|")]
        assert len(cells) >= 3 and cells[0], f"{name}.{field}: needs type, unit/frame and meaning columns"
        missing = [v for v in _literal_values(cls, field) if f"`{v}`" not in rows[field]]
        assert missing == [], f"{name}.{field}: allowed values not listed: {missing}"
    for method in _public_methods(cls):
        assert f"{method}(" in type_sections[name], f"{name}.{method}: not described in its section"


def test_product_table_matches_the_payload_code_and_the_hooks(repo_root: Path) -> None:
    text = (repo_root / "docs" / "plugins.md").read_text(encoding="utf-8")
    for kind, (hook, _) in rsu_sdk.PRODUCT_HOOKS.items():
        if kind in PRODUCT_OF:
            product, schema = PRODUCT_OF[kind]
            row = (f"| `{kind.__name__}` | `{product}` | `{schema}` | `rsu/<site>/{product}/<source>` "
                   f"| `{hook}` |")
        else:
            row = f"| `{kind.__name__}` | (not published) | | | `{hook}` |"
        assert row in text, f"docs/plugins.md product table needs the row: {row}"
    assert set(rsu_sdk.PRODUCT_HOOKS) == set(rsu_sdk.PRODUCT_TYPES)


def test_topic_rule_is_stated_as_the_code_applies_it(repo_root: Path) -> None:
    text = (repo_root / "docs" / "plugins.md").read_text(encoding="utf-8")
    assert topics.PRODUCT_PATTERN in text and topics.SOURCE_PATTERN in text
    assert "Built-in products: " + ", ".join(f"`{p}`" for p in topics.BUILTIN_PRODUCTS) + "." in text
    for refused in ("faults", "objects2", "env_x", "v2x"):
        assert f"`{refused}`" in text
        with pytest.raises(rsu_sdk.PublishError):
            topics.check_product(refused)
    for allowed in ("zone_count", "speeding", "v2x/denm"):
        assert topics.check_product(allowed) == allowed


def test_guide_says_how_to_see_a_plugins_log_and_the_threading_contract(repo_root: Path) -> None:
    text = (repo_root / "docs" / "plugins.md").read_text(encoding="utf-8")
    assert "rsu -v run CONFIG" in text and "rsu.plugin.<name>" in text
    assert "### Threading contract" in text and "the plugin's own worker thread" in text
    for name in _hookspecs():
        assert f"`{name}`" in text or f"### {name}(" in text, name


@pytest.mark.parametrize("name", sorted(_hookspecs()))
def test_every_hookspec_states_its_thread_rate_and_version(name: str) -> None:
    doc = inspect.getdoc(_hookspecs()[name]) or ""
    assert "thread" in doc, f"{name}: say on which thread it is called"
    assert re.search(r"\b(once|each|every)\b", doc), f"{name}: say how often it is called"
    assert ".. versionadded::" in doc and "Example::" in doc, name
