"""Clocks the box reads: the wall clock (event and publish times) and a monotonic one (ages, deadlines).

Tests inject a :class:`ManualClock` and advance it instead of sleeping.
"""

from __future__ import annotations

import threading
import time
from typing import Protocol

__all__ = ["Clock", "SystemClock", "ManualClock", "SYSTEM_CLOCK", "CLOCK_STEP_NS"]

CLOCK_STEP_NS = 60 * 10**9
"""An event time this far behind what the dataflow already processed is not a late event but a step of the
clock that stamped it (the box's wall clock set back): operators start a new timeline instead of dropping
everything as late until the clock catches up. The same bound as a live sensor's default clock skew."""


class Clock(Protocol):
    """What the box asks of a clock."""

    def wall_ns(self) -> int:
        """Nanoseconds since the Unix epoch."""

    def monotonic_ns(self) -> int:
        """Nanoseconds of a clock that never goes back (ages, deadlines, idleness)."""


class SystemClock:
    """The machine's clocks."""

    def wall_ns(self) -> int:
        return time.time_ns()

    def monotonic_ns(self) -> int:
        return time.monotonic_ns()


class ManualClock:
    """A clock that moves only when told to (thread-safe); both readings advance together."""

    def __init__(self, wall_ns: int = 1_767_225_600_000_000_000, monotonic_ns: int = 0) -> None:
        self._lock = threading.Lock()
        self._wall = int(wall_ns)
        self._mono = int(monotonic_ns)

    def wall_ns(self) -> int:
        with self._lock:
            return self._wall

    def monotonic_ns(self) -> int:
        with self._lock:
            return self._mono

    def advance(self, seconds: float) -> None:
        """Move both readings forward by ``seconds`` (>= 0)."""
        if seconds < 0:
            raise ValueError(f"a clock only moves forward, got {seconds} s")
        step = int(seconds * 1e9)
        with self._lock:
            self._wall += step
            self._mono += step


SYSTEM_CLOCK = SystemClock()
