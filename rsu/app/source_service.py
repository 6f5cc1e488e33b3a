"""A source on its own thread, restarted with backoff when it dies, and reported when it does.

Sources reconnect and skip bad records on their own; this is the last line of defence: a source whose ``run``
raises is counted (``source.<id>.crashed``), reported as a ``down`` health event, and started again after a
backoff that doubles up to a limit. A source whose ``run`` returns (a recording played to its end) is finished.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any, Protocol

from rsu_sdk import HealthEvent, Product

from rsu.core.stats import RunStats

__all__ = ["Source", "SourceService"]

log = logging.getLogger("rsu.app.source")


class Source(Protocol):
    """An input owned by the host: ``run`` blocks until ``stop`` is set, reconnecting on its own."""

    id: str

    def run(self, emit: Callable[[Product], None], stop: threading.Event) -> None: ...

    def stats(self) -> dict[str, Any]: ...


class SourceService:
    """Runs ``source`` on a thread until :meth:`stop` (or ``stop_event`` is set) or it finishes.

    :param emit: where its products go (the box's sensor lane for this source).
    :param report: where health events about it go (the box's safety lane).
    :param stop_event: the event ``source.run`` watches; default: the service's own, so that one source can be
        stopped while the others run (:mod:`rsu.app.source_set`).
    """

    def __init__(self, source: Source, *, emit: Callable[[Product], None], report: Callable[[HealthEvent], None],
                 stats: RunStats, stop_event: threading.Event | None = None, backoff_s: float = 1.0,
                 max_backoff_s: float = 30.0) -> None:
        self.source = source
        self.name = f"source:{source.id}"
        self._emit = emit
        self._report = report
        self._stop = stop_event if stop_event is not None else threading.Event()  # own: stoppable alone
        self._detached = False
        self._stats = stats
        self.backoff_s, self.max_backoff_s = backoff_s, max_backoff_s
        self._thread = threading.Thread(target=self._loop, name=f"source-{source.id}", daemon=True)
        self.restarts = 0
        self.last_error: str | None = None
        self.state = "idle"

    def start(self) -> None:
        self.state = "running"
        self._thread.start()

    def alive(self) -> bool:
        return self._thread.is_alive()

    def finished(self) -> bool:
        """True once the thread has ended (played to the end, or stopped)."""
        return self.state != "idle" and not self._thread.is_alive()

    def _loop(self) -> None:
        delay = self.backoff_s
        while not self._stop.is_set():
            try:
                self.source.run(self._forward, self._stop)
            except Exception as exc:  # noqa: BLE001 - sources handle their own errors; this is the last line
                self.last_error = f"{type(exc).__name__}: {exc}"
                self.restarts += 1
                self.state = "restarting"
                self._stats.count(f"source.{self.source.id}", "crashed")
                log.exception("source %s stopped with an error; restarting in %.1f s", self.source.id, delay)
                self._report(HealthEvent(source=self.source.id, t_event_ns=time.time_ns(), component=self.name,
                                         status="down", message=f"crashed ({self.last_error}); "
                                                                f"restart {self.restarts} in {delay:.1f} s"))
                if self._stop.wait(delay):
                    break
                delay = min(delay * 2, self.max_backoff_s)
                self.state = "running"
                continue
            break
        self.state = "stopped" if self._stop.is_set() else "finished"

    def _forward(self, product: Product) -> None:
        if not self._detached:
            self._emit(product)

    def stop(self, deadline: float) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(max(0.0, deadline - time.monotonic()))

    def detach(self, deadline: float) -> bool:
        """Stop for good (the source was removed or replaced): from now on nothing it emits reaches the box,
        even when its thread outlives ``deadline``. True when the thread has ended."""
        self._detached = True
        self.stop(deadline)
        return not self._thread.is_alive()

    def stats(self) -> dict[str, Any]:
        return {"state": self.state, "restarts": self.restarts, "last_error": self.last_error}
