"""Ranges every decoded value must lie in: event times against the box clock, ids, sizes, JSON shape.

A value out of range is a rejection the caller counts; nothing here raises anything but
:class:`InputRangeError` (a ``ValueError`` naming the field).
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable
from typing import Any

__all__ = ["DEFAULT_MAX_CLOCK_SKEW_S", "MAX_EVENT_NS", "ClockWindow", "InputRangeError", "bounded_int", "describe",
           "load_json_object", "seconds_to_ns"]

DEFAULT_MAX_CLOCK_SKEW_S = 60.0
"""How far (either way) a live sensor's event time may be from the box clock before it is rejected."""
MAX_EVENT_NS = 4_102_444_800_000_000_000
"""2100-01-01T00:00:00Z: no event time (recorded or live) is later than this."""
MAX_JSON_DEPTH = 8


class InputRangeError(ValueError):
    """A decoded value outside its range; the text names the field."""


def bounded_int(value: Any, where: str, lo: int, hi: int) -> int:
    """``value`` as an int in ``[lo, hi]`` (bools and floats rejected)."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise InputRangeError(f"{where}: expected an integer, got {_short(value)}")
    if not lo <= value <= hi:
        raise InputRangeError(f"{where}: {_short(value)} outside [{lo}, {hi}]")
    return value


def seconds_to_ns(value: Any, where: str) -> int:
    """Seconds since the epoch (int or float) as integer ns in ``[0, MAX_EVENT_NS]``."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise InputRangeError(f"{where}: expected seconds since the epoch, got {_short(value)}")
    if isinstance(value, float) and not math.isfinite(value):
        raise InputRangeError(f"{where}: expected a finite number, got {value!r}")
    if not 0 <= value <= MAX_EVENT_NS / 1e9:
        raise InputRangeError(f"{where}: {_short(value)} s outside [0, {MAX_EVENT_NS // 10**9}]")
    return int(round(value * 1e9)) if isinstance(value, float) else value * 1_000_000_000


def describe(value: Any, limit: int = 40) -> str:
    """A short, safe ``repr`` of a hostile value (long strings cut, huge integers by their size)."""
    if isinstance(value, int) and not isinstance(value, bool) and value.bit_length() > 64:
        return f"an integer of {int(value.bit_length() * 0.30103) + 1} digits"
    if isinstance(value, (str, bytes, list, dict)) and len(value) > limit:
        return f"{repr(value[:limit] if not isinstance(value, dict) else '{...}')[:limit]}... (length {len(value)})"
    text = repr(value)
    return text if len(text) <= limit else f"{text[:limit]}..."


_short = describe


class ClockWindow:
    """Event times of a live source must lie within ``max_skew_s`` of the box clock.

    An event time ahead of the clock but inside the window is stamped with the clock's reading (counted as
    ``clamped``), so a published ``t_event`` is never ahead of ``t_publish``; outside the window it is a
    rejection (counted as ``rejected``).
    """

    def __init__(self, max_skew_s: float = DEFAULT_MAX_CLOCK_SKEW_S,
                 wall_ns: Callable[[], int] = time.time_ns) -> None:
        if not (isinstance(max_skew_s, (int, float)) and math.isfinite(max_skew_s) and max_skew_s > 0):
            raise ValueError(f"max_clock_skew_s: expected a positive number of seconds, got {max_skew_s!r}")
        self.max_skew_ns = int(max_skew_s * 1e9)
        self.wall_ns = wall_ns
        self.rejected = 0
        self.clamped = 0

    def check(self, t_ns: Any, where: str = "t_event", now_ns: int | None = None) -> int:
        """The event time to publish for ``t_ns`` (ns since the epoch); :class:`InputRangeError` if out of range."""
        now = self.wall_ns() if now_ns is None else now_ns
        if isinstance(t_ns, bool) or not isinstance(t_ns, int):
            self.rejected += 1
            raise InputRangeError(f"{where}: expected integer ns since the epoch, got {_short(t_ns)}")
        off = t_ns - now
        if abs(off) > self.max_skew_ns:
            self.rejected += 1
            side = "ahead of" if off > 0 else "behind"
            lag = f"{abs(off) / 1e9:.3g}" if abs(off) < 10**30 else "more than 10^21"
            raise InputRangeError(f"{where}: {_short(t_ns)} is {lag} s {side} the box clock "
                                  f"(max_clock_skew_s {self.max_skew_ns / 1e9:g})")
        if off > 0:
            self.clamped += 1
            return now
        return t_ns

    def stats(self) -> dict[str, int]:
        return {"time_rejected": self.rejected, "time_clamped": self.clamped}


def load_json_object(payload: bytes | str, *, max_bytes: int, max_depth: int = MAX_JSON_DEPTH) -> dict[str, Any]:
    """One UTF-8 JSON object of at most ``max_bytes`` and ``max_depth`` levels of nesting.

    Every way it can fail (bad UTF-8, bad JSON, over-long integers, nesting that exhausts the recursion
    limit) is an :class:`InputRangeError`. ``NaN`` and ``Infinity`` parse (as floats): each field's own check
    rejects them, naming the field.
    """
    size = len(payload.encode("utf-8", "surrogatepass") if isinstance(payload, str) else payload)
    if size > max_bytes:
        raise InputRangeError(f"message: {size} bytes, more than {max_bytes}")
    try:
        text = payload.decode("utf-8") if isinstance(payload, (bytes, bytearray, memoryview)) else payload
        doc = json.loads(text)
    except RecursionError:
        raise InputRangeError(f"message: nested deeper than {max_depth} levels") from None
    except (ValueError, TypeError) as exc:  # UnicodeDecodeError and JSONDecodeError are ValueErrors
        raise InputRangeError(f"not UTF-8 JSON: {exc}") from None
    if not isinstance(doc, dict):
        raise InputRangeError(f"expected a JSON object, got {type(doc).__name__}")
    _check_depth(doc, max_depth)
    return doc


def _check_depth(doc: Any, max_depth: int) -> None:
    stack: list[tuple[Any, int]] = [(doc, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > max_depth:
            raise InputRangeError(f"message: nested deeper than {max_depth} levels")
        if isinstance(node, dict):
            stack.extend((v, depth + 1) for v in node.values() if isinstance(v, (dict, list)))
        elif isinstance(node, list):
            stack.extend((v, depth + 1) for v in node if isinstance(v, (dict, list)))
