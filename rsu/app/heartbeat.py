"""The box's heartbeat: a ``health`` message per source, per plugin and for the box itself on an interval.

Operators watch these rather than transitions alone: each says the component's status (``ok``, ``degraded``,
``down``), a short message, and ``details`` (its counters and state: rates, drops, stale inputs, last error).
Each beat is a :class:`~rsu_sdk.HealthEvent` with ``heartbeat=True``, the one health type of the box, published
with its schema and event time like any product, but straight from its own thread, so a box whose router is
stuck still says so.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any

from rsu_sdk import HealthEvent

from rsu.metrics.health import source_opened

__all__ = ["HeartbeatService", "json_details"]

log = logging.getLogger(__name__)


def json_details(value: Any, depth: int = 0) -> Any:
    """A JSON-safe, bounded copy of a stats mapping (numbers, strings, booleans, nested mappings)."""
    if isinstance(value, bool) or value is None or isinstance(value, int):
        return value
    if isinstance(value, float):
        return value if value == value and abs(value) != float("inf") else None
    if isinstance(value, str):
        return value[:200]
    if isinstance(value, Mapping) and depth < 3:
        return {str(k)[:64]: json_details(v, depth + 1) for k, v in list(value.items())[:40]}
    if isinstance(value, (list, tuple)) and depth < 3:
        return [json_details(v, depth + 1) for v in value[:20]]
    return str(value)[:200]


class HeartbeatService:
    """Publishes the heartbeat every ``interval_s`` seconds (and once at start).

    :param publish: ``publish(event)`` — the box's publisher for a :class:`~rsu_sdk.HealthEvent` (product
        ``health``, schema ``rsu.health/1``, its event time).
    :param components: returns ``(topic source, component, status, message, details)`` for each component.
    :param wall_ns: the event time of a beat (ns since the Unix epoch), read once per beat.
    """

    name = "heartbeat"

    def __init__(self, publish: Callable[[HealthEvent], None],
                 components: Callable[[], list[tuple[str, str, str, str, dict[str, Any]]]], interval_s: float,
                 *, wall_ns: Callable[[], int] = time.time_ns) -> None:
        if interval_s <= 0:
            raise ValueError(f"interval_s: expected > 0, got {interval_s}")
        self._publish = publish
        self._components = components
        self._wall_ns = wall_ns
        self.interval_s = interval_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="heartbeat", daemon=True)
        self.sent = 0
        self.errors = 0

    def start(self) -> None:
        self._thread.start()

    def _loop(self) -> None:
        while True:
            self.beat()
            if self._stop.wait(self.interval_s):
                return

    def beat(self) -> int:
        """Publish one heartbeat per component now; returns how many were published."""
        n = 0
        try:
            components = self._components()
        except Exception:  # noqa: BLE001 - a heartbeat must not die
            log.exception("collecting the heartbeat failed")
            self.errors += 1
            return 0
        t_event_ns = self._wall_ns()
        for source, component, status, message, details in components:
            try:
                self._publish(HealthEvent(source=source, t_event_ns=t_event_ns, component=component,
                                          status=status,  # type: ignore[arg-type]
                                          message=message, details=json_details(details), heartbeat=True))
                n += 1
            except Exception:  # noqa: BLE001
                self.errors += 1
                log.exception("publishing the heartbeat of %s failed", component)
        self.sent += n
        return n

    def stop(self, deadline: float) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(max(0.0, deadline - time.monotonic()))

    def stats(self) -> dict[str, Any]:
        return {"sent": self.sent, "errors": self.errors, "interval_s": self.interval_s}


def source_status(service_state: str, stats: Mapping[str, Any]) -> tuple[str, str]:
    """``(status, message)`` of a source from its service state and its own stats."""
    if service_state == "restarting":
        return "down", "crashed; restarting with backoff"
    if service_state == "finished":
        return "ok", "finished (input played to its end)"
    if service_state == "stopped":
        return "ok", "stopped"
    if stats.get("error"):
        return "degraded", str(stats["error"])[:200]
    if not source_opened(dict(stats)):
        return "degraded", "not opened yet"
    state = stats.get("state")
    if state in ("degraded", "backoff", "down", "reconnecting"):
        return "degraded", f"state {state}"
    return "ok", "running"
