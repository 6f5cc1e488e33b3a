"""Validation and comparison helpers shared by the SDK's value types (not API)."""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

import numpy as np

from rsu_sdk.errors import InvalidDataError

FROZEN: dict[str, bool] = dict(frozen=True, slots=True, kw_only=True)
"""Keyword arguments of every SDK value dataclass."""


def check_time(owner: str, t_event_ns: int) -> None:
    """``t_event_ns`` is a non-negative integer (nanoseconds since the Unix epoch)."""
    if isinstance(t_event_ns, bool) or not isinstance(t_event_ns, (int, np.integer)):
        raise InvalidDataError(f"{owner}.t_event_ns: expected int nanoseconds, got {type(t_event_ns).__name__}")
    if t_event_ns < 0:
        raise InvalidDataError(f"{owner}.t_event_ns: must be >= 0, got {t_event_ns}")


def check_source(owner: str, source: str) -> None:
    """``source`` is a non-empty string."""
    if not isinstance(source, str) or not source:
        raise InvalidDataError(f"{owner}.source: expected a non-empty string, got {source!r}")


def check_literal(owner: str, name: str, value: Any, allowed: Iterable[str]) -> None:
    """``value`` is one of ``allowed``: else ``Owner.name: expected one of 'a', 'b', got 'x'``."""
    allowed = tuple(allowed)
    if not isinstance(value, str) or value not in allowed:
        raise InvalidDataError(
            f"{owner}.{name}: expected one of {', '.join(repr(a) for a in allowed)}, got {value!r}")


def check_finite(owner: str, name: str, values: tuple[float, ...]) -> None:
    """Every value is a finite number."""
    if not all(math.isfinite(v) for v in values):
        raise InvalidDataError(f"{owner}.{name}: expected finite numbers, got {values}")


def _pretty(shape: tuple[int | None, ...]) -> str:
    return "(" + ", ".join("N" if s is None else str(s) for s in shape) + ("," if len(shape) == 1 else "") + ")"


def check_shape(owner: str, name: str, arr: np.ndarray, shape: tuple[int | None, ...]) -> None:
    """``arr`` has ``shape`` (None = any length): else ``expected shape (N, 4), got (3, 5)``."""
    if arr.ndim != len(shape) or any(want is not None and got != want for got, want in zip(arr.shape, shape)):
        raise InvalidDataError(f"{owner}.{name}: expected shape {_pretty(shape)}, got {arr.shape}")


def readonly(owner: str, name: str, value: Any, dtype: Any, shape: tuple[int | None, ...]) -> np.ndarray:
    """``value`` as a read-only array of ``dtype`` with ``shape``.

    An ndarray that already has ``dtype`` is not copied: the result is a read-only *view* of it. Anything
    else is converted once.
    """
    try:
        if isinstance(value, np.ndarray) and value.dtype == np.dtype(dtype):
            arr = value.view()
        else:
            arr = np.array(value, dtype=dtype)
    except (TypeError, ValueError) as exc:
        raise InvalidDataError(f"{owner}.{name}: cannot convert to {np.dtype(dtype).name}: {exc}") from None
    check_shape(owner, name, arr, shape)
    arr.setflags(write=False)
    return arr


def arrays_equal(a: np.ndarray | None, b: np.ndarray | None) -> bool:
    """Equal shape and values (``None`` equals only ``None``), like :func:`numpy.array_equal`."""
    if a is None or b is None:
        return a is b
    return bool(np.array_equal(a, b))
