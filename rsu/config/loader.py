"""Load a YAML config file and report every problem as ``dotted.key[path]: reason``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from rsu.config.model import RsuConfig

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
    for item in loc:
        if isinstance(item, int):
            parts.append(f"[{item}]")
            node = node[item] if isinstance(node, list) and -len(node) <= item < len(node) else None
            continue
        if isinstance(node, dict) and item not in node and node.get("type") is not None:
            # a tagged-union branch name ("camera", "plugin"), not a key the user wrote
            if item == node.get("type") or item in ("plugin",):
                continue
        parts.append(("." if parts else "") + str(item))
        node = node.get(item) if isinstance(node, dict) else None
    return "".join(parts) or "(top level)"


def _reason(err: dict[str, Any]) -> str:
    kind, ctx = err.get("type", ""), err.get("ctx") or {}
    if kind == "extra_forbidden":
        return "unknown key"
    if kind == "missing":
        return "required key is missing"
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


def parse_config(raw: Any, source: str = "<config>") -> RsuConfig:
    """Validate already-parsed YAML/JSON data; raise :class:`ConfigError` listing every problem."""
    if not isinstance(raw, dict):
        raise ConfigError(source, [f"(top level): expected a mapping, got {type(raw).__name__}"])
    try:
        return RsuConfig.model_validate(raw)
    except ValidationError as exc:
        problems = [f"{format_loc(tuple(e['loc']), raw)}: {_reason(e)}" for e in exc.errors()]
        raise ConfigError(source, problems) from None


def load_config(path: str | Path) -> RsuConfig:
    """Read and validate a YAML config file."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(str(path), [f"cannot read file: {exc.strerror}"]) from None
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else "?"
        raise ConfigError(str(path), [f"YAML syntax error at {where}: {getattr(exc, 'problem', exc)}"]) from None
    return parse_config(raw if raw is not None else {}, str(path))
