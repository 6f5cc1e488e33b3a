"""For an unknown key: the valid keys at that place in the config, and the nearest one (``did you mean``)."""

from __future__ import annotations

import difflib
import types
import typing
from collections.abc import Mapping, Sequence
from typing import Any

from pydantic import BaseModel

__all__ = ["keys_at", "nearest_key"]


def _tagged(members: Sequence[Any]) -> dict[str, Any]:
    """Tag -> member type of a discriminated union's ``Annotated[Model, Tag("x")]`` members."""
    out: dict[str, Any] = {}
    for member in members:
        if typing.get_origin(member) is typing.Annotated:
            inner, *meta = typing.get_args(member)
            for item in meta:
                tag = getattr(item, "tag", None)
                if isinstance(tag, str):
                    out[tag] = inner
    return out


def _unwrap(tp: Any) -> Any:
    """Strip ``Annotated`` and ``X | None`` down to the type that holds the keys."""
    while True:
        origin = typing.get_origin(tp)
        if origin is typing.Annotated:
            tp = typing.get_args(tp)[0]
        elif origin in (typing.Union, types.UnionType):
            members = [a for a in typing.get_args(tp) if a is not type(None)]
            if len(members) != 1:
                return tp
            tp = members[0]
        else:
            return tp


def _step(tp: Any, item: Any) -> tuple[Any, bool]:
    """The type one location ``item`` below ``tp``; the flag says whether ``item`` was consumed."""
    tp = _unwrap(tp)
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        members = typing.get_args(tp)
        tags = _tagged(members)
        if isinstance(item, str) and item in tags:  # pydantic names the union branch in the location
            return tags[item], True
        models = [m for m in map(_unwrap, members) if isinstance(m, type) and issubclass(m, BaseModel)]
        for model in models:
            if isinstance(item, str) and item in model.model_fields:
                return model, False
        return None, True
    if isinstance(tp, type) and issubclass(tp, BaseModel):
        field = tp.model_fields.get(item) if isinstance(item, str) else None
        return (field.annotation if field is not None else None), True
    args = typing.get_args(tp)
    if origin is not None and isinstance(origin, type) and issubclass(origin, Mapping) and len(args) == 2:
        return args[1], True
    if origin in (list, tuple, set, frozenset) or (isinstance(origin, type) and issubclass(origin, Sequence)):
        return (args[0] if args else None), True
    return None, True


def keys_at(root: type[BaseModel], loc: Sequence[Any]) -> list[str]:
    """The keys the model at pydantic location ``loc`` (the parent of an unknown key) accepts; [] if unknown."""
    tp: Any = root
    items = list(loc)
    guard = 0
    while items and tp is not None and guard < 4 * len(loc) + 4:
        guard += 1
        tp, consumed = _step(tp, items[0])
        if consumed:
            items.pop(0)
    tp = _unwrap(tp) if tp is not None else None
    if isinstance(tp, type) and issubclass(tp, BaseModel):
        keys = list(tp.model_fields)
        keys += [f.alias for f in tp.model_fields.values() if f.alias]
        return keys
    return []


def nearest_key(key: Any, candidates: Sequence[str]) -> str | None:
    """The candidate closest to ``key`` (difflib ratio >= 0.6, case-insensitive), or None."""
    if not isinstance(key, str) or not candidates:
        return None
    lowered = {c.lower(): c for c in candidates}
    found = difflib.get_close_matches(key.lower(), list(lowered), n=1, cutoff=0.6)
    return lowered[found[0]] if found else None
