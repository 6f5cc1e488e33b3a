"""Waiting on a condition, for tests and tools: poll a predicate until it holds, with a timeout that is a hang
guard, never a measurement."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import TypeVar

__all__ = ["wait_for"]

T = TypeVar("T")

_TICK = threading.Event()  # never set: its wait() is the pause between two polls


def wait_for(predicate: Callable[[], T], timeout: float, what: str, interval: float = 0.02) -> T:
    """Poll ``predicate`` until it returns something truthy and return that; after ``timeout`` seconds raise
    ``AssertionError`` naming ``what`` and the last value seen. ``predicate`` may act as well as look (send a
    probe, feed a frame) before it answers."""
    deadline = time.monotonic() + timeout
    while True:
        last = predicate()
        if last:
            return last
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {timeout:g} s waiting for {what} (last: {last!r})")
        _TICK.wait(interval)
