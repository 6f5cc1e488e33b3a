"""One lifecycle for everything that runs in the box: sources' threads, stages, workers, servers.

A :class:`Service` starts, stops within a deadline, and reports stats. The :class:`ServiceStack` owns the box's
services: it starts them in order and stops them in reverse order, each within what is left of one shared
deadline (like :class:`contextlib.ExitStack`); a service that fails to stop is logged and counted, and the rest
still stop.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

__all__ = ["Service", "ServiceStack", "CallbackService"]

log = logging.getLogger(__name__)


@runtime_checkable
class Service(Protocol):
    """Something the box runs. ``stop`` must return by ``deadline`` (a :func:`time.monotonic` value)."""

    name: str

    def start(self) -> None: ...

    def stop(self, deadline: float) -> None: ...

    def stats(self) -> dict[str, Any]: ...


@dataclass
class CallbackService:
    """A service made of two callables, for components whose start and stop are plain functions.

    ``on_stop`` takes no deadline, so :meth:`stop` runs it on a helper thread and waits for it until the
    deadline only: one that takes longer is logged and counted (``stop_overran``) and left to finish there.
    An exception it raises in time is re-raised to the caller.
    """

    name: str
    on_start: Callable[[], None] | None = None
    on_stop: Callable[[], None] | None = None
    stop_overran: int = 0

    def start(self) -> None:
        if self.on_start is not None:
            self.on_start()

    def stop(self, deadline: float) -> None:
        """Call ``on_stop`` and return by ``deadline`` (a :func:`time.monotonic` value) whatever it does."""
        if self.on_stop is None:
            return
        on_stop, failed = self.on_stop, []

        def run() -> None:
            try:
                on_stop()
            except BaseException as exc:  # noqa: BLE001 - handed to the caller below
                failed.append(exc)

        thread = threading.Thread(target=run, name=f"stop-{self.name}", daemon=True)
        thread.start()
        thread.join(max(0.0, deadline - time.monotonic()))
        if thread.is_alive():
            self.stop_overran += 1
            log.warning("service %s did not stop by its deadline; it goes on stopping in the background", self.name)
        elif failed:
            raise failed[0]

    def stats(self) -> dict[str, Any]:
        return {"stop_overran": self.stop_overran} if self.stop_overran else {}


class ServiceStack:
    """Starts services in the order they were added and stops the started ones in reverse order."""

    def __init__(self) -> None:
        self._services: list[Service] = []
        self._started: list[Service] = []
        self.stop_errors: dict[str, str] = {}

    def add(self, service: Service) -> Service:
        """Own ``service`` (started by :meth:`start`, or at once when the stack already runs)."""
        self._services.append(service)
        return service

    @property
    def services(self) -> tuple[Service, ...]:
        return tuple(self._services)

    def start(self) -> None:
        """Start every service not yet started; if one fails, stop the started ones and re-raise."""
        for service in self._services:
            if service in self._started:
                continue
            try:
                service.start()
            except BaseException:
                log.exception("service %s failed to start", service.name)
                self.stop(time.monotonic() + 10.0)
                raise
            self._started.append(service)

    def stop(self, deadline: float) -> None:
        """Stop the started services in reverse order, all within ``deadline``; never raises."""
        while self._started:
            service = self._started.pop()
            try:
                service.stop(deadline)
            except Exception as exc:  # noqa: BLE001 - the others must still stop
                log.exception("service %s failed to stop", service.name)
                self.stop_errors[service.name] = f"{type(exc).__name__}: {exc}"

    def close_unstarted(self) -> None:
        """Stop services that were built but never started (a failed start-up): same as :meth:`stop` on all."""
        self._started = list(self._services)
        self.stop(time.monotonic() + 10.0)

    def stats(self) -> dict[str, dict[str, Any]]:
        out: dict[str, dict[str, Any]] = {}
        for service in self._services:
            try:
                out[service.name] = service.stats()
            except Exception as exc:  # noqa: BLE001 - a summary must still be written
                out[service.name] = {"error": f"{type(exc).__name__}: {exc}"}
        return out
