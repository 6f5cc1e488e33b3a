"""Turn the absence of data into :class:`HealthEvent` values (radar silence, link loss)."""

from __future__ import annotations

import time
from collections.abc import Callable

from rsu_sdk import HealthEvent

__all__ = ["SilenceWatch"]


class SilenceWatch:
    """Emits ``down`` once no data came for ``timeout_s`` (wall clock), and ``ok`` when data resumes.

    :param component: e.g. ``source:radar-1``.
    :param clock: seconds, monotonic; injectable for tests.
    """

    def __init__(self, source: str, component: str, timeout_s: float,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.source, self.component, self.timeout_s, self._clock = source, component, timeout_s, clock
        self._last = clock()
        self.silent = False
        self.events = 0

    def _event(self, status: str, message: str) -> HealthEvent:
        self.events += 1
        return HealthEvent(source=self.source, t_event_ns=time.time_ns(), component=self.component,
                           status=status, message=message)  # type: ignore[arg-type]

    def data(self) -> HealthEvent | None:
        """Call on each good unit of data; returns an ``ok`` event when it ends a silence."""
        self._last = self._clock()
        if self.silent:
            self.silent = False
            return self._event("ok", "data resumed")
        return None

    def check(self) -> HealthEvent | None:
        """Call periodically; returns a ``down`` event when a silence starts."""
        idle = self._clock() - self._last
        if not self.silent and idle >= self.timeout_s:
            self.silent = True
            return self._event("down", f"no data for {idle:.1f} s (limit {self.timeout_s:g} s)")
        return None

    def fault(self, message: str) -> HealthEvent | None:
        """A failure of the link itself (open/read error); an event only when it starts a silence."""
        if self.silent:
            return None
        self.silent = True
        return self._event("down", message)
