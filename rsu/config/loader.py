"""Load a YAML config file and report every problem as ``dotted.key[path]: reason``."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from rsu.config.root import RsuConfig
from rsu.config.sources import MISSING_TYPE_ERROR, SOURCE_TAGS
from rsu.config.suggest import keys_at, nearest_key
from rsu.config.yaml_io import YamlReadError, read_yaml

__all__ = ["ConfigError", "load_config", "parse_config", "format_loc"]


class ConfigError(Exception):
    """The configuration is invalid; ``problems`` holds one ``path: reason`` line per problem."""

    def __init__(self, source: str, problems: list[str]) -> None:
        self.source = source
        self.problems = problems
        super().__init__(f"{source}: " + "; ".join(problems))


def format_loc(loc: tuple[Any, ...], raw: Any) -> str:
    """Turn a pydantic error location into ``sources[1].fps``, dropping union tags that are not keys."""
    parts: list[str] = []
    node = raw
    for k, item in enumerate(loc):
        if isinstance(item, int):
            parts.append(f"[{item}]")
            node = node[item] if isinstance(node, list) and -len(node) <= item < len(node) else None
            continue
        if (k > 0 and isinstance(loc[k - 1], int) and item in SOURCE_TAGS
                and not (isinstance(node, dict) and item in node)):
            continue  # a tagged-union branch name ("camera", "plugin") after sources[i], not a key the user wrote
        parts.append(("." if parts else "") + str(item))
        node = node.get(item) if isinstance(node, dict) else None
    return "".join(parts) or "(top level)"


def _unknown_key(err: dict[str, Any]) -> str:
    loc = tuple(err.get("loc", ()))
    if not loc:
        return "unknown key"
    guess = nearest_key(loc[-1], keys_at(RsuConfig, loc[:-1]))
    return f"unknown key; did you mean {guess}?" if guess else "unknown key"


def _reason(err: dict[str, Any]) -> str:
    kind, ctx = err.get("type", ""), err.get("ctx") or {}
    if kind == "extra_forbidden":
        return _unknown_key(err)
    if kind in ("missing", MISSING_TYPE_ERROR):
        return "required key is missing"
    if kind == "finite_number":
        return f"must be a finite number, got {err.get('input')!r}"
    if kind in ("model_type", "dict_type", "model_attributes_type"):
        return f"expected a mapping (key: value lines), got {type(err.get('input')).__name__}"
    for op, sym in (("greater_than", ">"), ("greater_than_equal", ">="), ("less_than", "<"), ("less_than_equal", "<=")):
        if kind == op:
            key = {"greater_than": "gt", "greater_than_equal": "ge", "less_than": "lt", "less_than_equal": "le"}[op]
            limit = ctx.get(key)
            if isinstance(limit, float) and limit.is_integer():
                limit = int(limit)
            return f"must be {sym} {limit}"
    if kind == "literal_error":
        return f"must be one of {ctx.get('expected')}"
    if kind == "value_error":
        return str(ctx.get("error", err.get("msg", "")))
    return str(err.get("msg", kind))


_PATH_FIRST = re.compile(r"^[A-Za-z_][\w\-]*(\[\d+\]|\.[\w\-]+)*: ")


def _line(err: dict[str, Any], raw: Any) -> str:
    loc = tuple(err.get("loc", ()))
    if err.get("type") == MISSING_TYPE_ERROR:
        loc = (*loc, "type")
    reason = _reason(err)
    if not loc and _PATH_FIRST.match(reason):
        return reason  # a whole-config check that names its own key path ("sources[2].id: ...")
    return f"{format_loc(loc, raw)}: {reason}"


def parse_config(raw: Any, source: str = "<config>") -> RsuConfig:
    """Validate already-parsed YAML/JSON data; raise :class:`ConfigError` listing every problem."""
    if not isinstance(raw, dict):
        raise ConfigError(source, [f"(top level): expected a mapping, got {type(raw).__name__}"])
    try:
        return RsuConfig.model_validate(raw)
    except ValidationError as exc:
        problems = list(dict.fromkeys(_line(e, raw) for e in exc.errors()))
        raise ConfigError(source, problems) from None
    except RecursionError:
        raise ConfigError(source, ["(top level): nested too deeply to be a config"]) from None


def load_config(path: str | Path) -> RsuConfig:
    """Read and validate a YAML config file (UTF-8; a repeated key is an error, not the later value)."""
    path = Path(path)
    try:
        raw = read_yaml(path)
    except YamlReadError as exc:
        raise ConfigError(str(path), exc.problems) from None
    return parse_config(raw if raw is not None else {}, str(path))
