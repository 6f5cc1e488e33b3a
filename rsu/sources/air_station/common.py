"""What every air-station input shares: counters, health events on loss / recovery, and backoff."""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter
from collections.abc import Callable
from typing import Any

from rsu_sdk import HealthEvent, Product

__all__ = ["Backoff", "InputState"]

log = logging.getLogger("rsu.sources.air_station")


class Backoff:
    """Delays ``initial, 2*initial, ...`` capped at ``maximum``; :meth:`reset` after a success."""

    def __init__(self, initial: float, maximum: float) -> None:
        self.initial, self.maximum = initial, max(initial, maximum)
        self.current = initial

    def wait(self, stop: threading.Event) -> bool:
        """Sleep the current delay (interrupted by ``stop``), then double it; True when stopped."""
        stopped = stop.wait(self.current)
        self.current = min(self.current * 2, self.maximum)
        return stopped

    def reset(self) -> None:
        self.current = self.initial


class InputState:
    """Counters of one source (bad messages also by reason), and its up/down state as :class:`HealthEvent`
    values (one per change)."""

    def __init__(self, source_id: str) -> None:
        self.source_id = source_id
        self.component = f"source:{source_id}"
        self.counts: dict[str, int] = {"received": 0, "readings": 0, "bad": 0, "reconnects": 0,
                                       "health_events": 0}
        self.bad_reasons: Counter[str] = Counter()
        self.last_error: str | None = None
        self.up: bool | None = None  # None until the first success or failure

    def bad(self, why: str, reason: str = "invalid") -> None:
        """Count one skipped message; ``reason`` is its kind (``oversized``, ``frames``, ``invalid``)."""
        self.counts["bad"] += 1
        self.bad_reasons[reason] += 1
        self.last_error = why
        if self.counts["bad"] <= 10 or self.counts["bad"] % 1000 == 0:
            log.warning("source %s: bad message #%d skipped: %s", self.source_id, self.counts["bad"], why)

    def _health(self, emit: Callable[[Product], None], status: str, message: str) -> None:
        self.counts["health_events"] += 1
        emit(HealthEvent(source=self.source_id, t_event_ns=time.time_ns(), component=self.component,
                         status=status, message=message))  # type: ignore[arg-type]

    def lost(self, emit: Callable[[Product], None], why: str) -> None:
        """The input went away (connection failed, silence); one ``down`` event per loss."""
        self.last_error = why
        if self.up is not False:
            self.up = False
            log.warning("source %s down: %s", self.source_id, why)
            self._health(emit, "down", why)

    def alive(self, emit: Callable[[Product], None]) -> None:
        """Data flows; an ``ok`` event when that ends a loss."""
        if self.up is False:
            self._health(emit, "ok", "data resumed")
        self.up = True

    def stats(self) -> dict[str, Any]:
        return {**self.counts, "bad_reasons": dict(self.bad_reasons), "up": self.up, "last_error": self.last_error}
