"""The box's sources while it runs: one :class:`~rsu.app.source_service.SourceService` per source id, in order,
added, removed and replaced one at a time without disturbing the others.

Readers (summary, health, metrics, the web server's threads) get an immutable snapshot
(:attr:`SourceSet.services`), so a change never shows them half a list; changes are serialised by a lock. A
source that is removed or replaced is detached first: whatever its thread still emits is discarded, so it
cannot reach the box under the id of its successor.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from rsu.app.source_service import Source, SourceService
from rsu.core.lanes import InputPolicy, Lanes

__all__ = ["SourceSet"]


class SourceSet:
    """The running sources of one box.

    :param make_service: wraps a source into its service (the box's emitter, health report and stats).
    :param lanes: the box's input lanes; a source added with a policy gets it for its own lane.
    """

    def __init__(self, make_service: Callable[[Source], SourceService], lanes: Lanes) -> None:
        self._make = make_service
        self._lanes = lanes
        self._lock = threading.Lock()
        self._services: tuple[SourceService, ...] = ()
        self._started = False
        self._stopping = False
        self._changed = False  # a source was added or removed while running

    # -- reading ---------------------------------------------------------------------------------------
    @property
    def services(self) -> tuple[SourceService, ...]:
        """Every source's service, in the order added (a snapshot)."""
        return self._services

    @property
    def sources(self) -> list[Source]:
        return [svc.source for svc in self._services]

    def get(self, source_id: str) -> SourceService | None:
        return next((svc for svc in self._services if svc.source.id == source_id), None)

    def finished(self) -> bool:
        """True when every source thread has ended. Once sources were added or removed at run time, an empty
        set is not finished: the box waits for the next source instead of stopping."""
        services = self._services
        if not services and self._changed:
            return False
        return all(svc.finished() for svc in services)

    # -- changing --------------------------------------------------------------------------------------
    def add(self, source: Source, policy: InputPolicy | None = None) -> SourceService:
        """Add ``source`` (started at once when the set runs). KeyError when its id is taken, RuntimeError
        once the box is stopping."""
        with self._lock:
            self._check_running()
            if self.get(source.id) is not None:
                raise KeyError(source.id)
            if policy is not None:
                self._lanes.set_policy(source.id, policy)
            svc = self._make(source)
            self._services = (*self._services, svc)
            self._changed = self._changed or self._started
            if self._started:
                svc.start()
            return svc

    def remove(self, source_id: str, deadline: float) -> tuple[SourceService, bool]:
        """Stop ``source_id``'s thread (waiting until ``deadline``, monotonic) and forget it.

        :returns: its service and whether the thread ended by the deadline (if not, it ends on its own later
            and nothing it emits reaches the box). KeyError for an unknown id.
        """
        with self._lock:
            svc = self.get(source_id)
            if svc is None:
                raise KeyError(source_id)
            self._services = tuple(s for s in self._services if s is not svc)
            self._changed = True
        return svc, svc.detach(deadline)

    def replace(self, source: Source, deadline: float, policy: InputPolicy | None = None) -> tuple[SourceService, bool]:
        """Restart: stop the service of ``source.id`` and run ``source`` (a freshly built one) in its place,
        at the same position. Returns the new service and whether the old thread ended by ``deadline``."""
        with self._lock:
            self._check_running()
            old = self.get(source.id)
            if old is None:
                raise KeyError(source.id)
            ended = old.detach(deadline)
            if policy is not None:
                self._lanes.set_policy(source.id, policy)
            new = self._make(source)
            self._services = tuple(new if s is old else s for s in self._services)
            if self._started:
                new.start()
            return new, ended

    # -- lifecycle -------------------------------------------------------------------------------------
    def start(self) -> None:
        with self._lock:
            self._started = True
            for svc in self._services:
                svc.start()

    def stop(self, deadline: float) -> None:
        """Stop every source, waiting for each until ``deadline`` (monotonic seconds); no source starts after."""
        with self._lock:
            self._stopping = True
            services = self._services
        for svc in services:
            svc.stop(deadline)

    def _check_running(self) -> None:
        if self._stopping:
            raise RuntimeError("the box is stopping")
