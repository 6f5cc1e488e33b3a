"""Keyed state behind a small interface: value and list state, in memory (embedded runner, checkpointed to
disk by :mod:`rsu.pipeline.checkpoint`) or in Flink (:mod:`rsu.pipeline.flink.functions` adapts it)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from typing import Any, Protocol

__all__ = ["ValueState", "ListState", "MemoryStateStore"]


class ValueState(Protocol):
    """One value per key. Mutating the value in place is allowed; call :meth:`update` afterwards so that
    a runner that copies state (Flink) sees the change."""

    def value(self) -> Any: ...

    def update(self, value: Any) -> None: ...

    def clear(self) -> None: ...


class ListState(Protocol):
    """A list per key."""

    def get(self) -> list[Any]: ...

    def add(self, value: Any) -> None: ...

    def update(self, values: Iterable[Any]) -> None: ...

    def clear(self) -> None: ...


class _MemValue:
    __slots__ = ("_table", "_key")

    def __init__(self, table: dict[str, Any], key: str) -> None:
        self._table, self._key = table, key

    def value(self) -> Any:
        return self._table.get(self._key)

    def update(self, value: Any) -> None:
        if value is None:
            self._table.pop(self._key, None)
        else:
            self._table[self._key] = value

    def clear(self) -> None:
        self._table.pop(self._key, None)


class _MemList:
    __slots__ = ("_table", "_key")

    def __init__(self, table: dict[str, Any], key: str) -> None:
        self._table, self._key = table, key

    def get(self) -> list[Any]:
        return self._table.get(self._key, [])

    def add(self, value: Any) -> None:
        self._table.setdefault(self._key, []).append(value)

    def update(self, values: Iterable[Any]) -> None:
        vals = list(values)
        if vals:
            self._table[self._key] = vals
        else:
            self._table.pop(self._key, None)

    def clear(self) -> None:
        self._table.pop(self._key, None)


class MemoryStateStore:
    """State of every operator: ``tables[(operator, state name)][key] -> value``; picklable as a whole."""

    def __init__(self) -> None:
        self.tables: dict[tuple[str, str], dict[str, Any]] = defaultdict(dict)

    def value_state(self, operator: str, name: str, key: str) -> ValueState:
        return _MemValue(self.tables[(operator, name)], key)

    def list_state(self, operator: str, name: str, key: str) -> ListState:
        return _MemList(self.tables[(operator, name)], key)

    def keys(self, operator: str) -> set[str]:
        """Every key that holds state of ``operator``."""
        return {k for (op, _), table in self.tables.items() if op == operator for k in table}

    def snapshot(self) -> dict[tuple[str, str], dict[str, Any]]:
        return {name: dict(table) for name, table in self.tables.items() if table}

    def restore(self, snap: dict[tuple[str, str], dict[str, Any]]) -> None:
        self.tables = defaultdict(dict, {name: dict(table) for name, table in snap.items()})
