"""One plugin's worker: a bounded queue, a thread, and the counters that isolate the plugin.

:meth:`PluginWorker.offer` never blocks: a full queue drops the product (counted). The thread calls the
plugin's hook implementations one at a time inside a try/except; ``failure_limit`` failures in a row
disable the plugin and call ``on_disabled`` once. A running plugin whose queue has stayed full for
``stall_after_s`` (it took nothing from it: blocked, or far too slow) reports status ``stalled`` until it takes
a product again.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Any

__all__ = ["InFlight", "PluginWorker"]

Call = tuple[str, Callable[..., Any], tuple[Any, ...]]
"""(hook name, function, positional arguments)."""


class InFlight:
    """Counts products queued or being handled across workers, so that "all idle" can be observed at once
    (a call that queues work for another worker adds before it is itself done)."""

    def __init__(self) -> None:
        self._n = 0
        self._cond = threading.Condition()

    def add(self, n: int = 1) -> None:
        with self._cond:
            self._n += n

    def done(self, n: int = 1) -> None:
        with self._cond:
            self._n -= n
            if self._n <= 0:
                self._cond.notify_all()

    def wait_zero(self, deadline: float) -> bool:
        """Wait until nothing is in flight or ``time.monotonic()`` passes ``deadline``."""
        with self._cond:
            return self._cond.wait_for(lambda: self._n <= 0, max(0.0, deadline - time.monotonic()))


class PluginWorker:
    """Runs one plugin's hook calls on its own thread.

    :param name: the plugin name (blamed in logs).
    :param queue_size: products buffered before :meth:`offer` starts dropping.
    :param failure_limit: consecutive failures that disable the plugin.
    :param on_disabled: called once, on the worker thread, with ``(name, reason)`` when disabled.
    :param inflight: shared counter of queued and running calls (see :class:`InFlight`).
    :param stall_after_s: a full queue for this long makes the status ``stalled``.
    :param clock: monotonic seconds (tests inject one).
    """

    def __init__(
        self,
        name: str,
        *,
        queue_size: int,
        failure_limit: int,
        logger: logging.Logger,
        on_disabled: Callable[[str, str], None] | None = None,
        inflight: InFlight | None = None,
        stall_after_s: float = 10.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if queue_size < 1 or failure_limit < 1:
            raise ValueError(f"plugin {name}: queue_size and failure_limit must be >= 1")
        self.name = name
        self.queue_size = queue_size
        self.failure_limit = failure_limit
        self.log = logger
        self._on_disabled = on_disabled
        self._inflight = inflight or InFlight()
        self.stall_after_s = stall_after_s
        self._clock = clock
        self._full_since: float | None = None
        self._reported_stall: float | None = None
        self.stalls = 0
        self._items: deque[Call] = deque()
        self._cond = threading.Condition()
        self._closing = False
        self._abort = False
        self._thread: threading.Thread | None = None
        self.calls = 0
        self.errors = 0
        self.consecutive_errors = 0
        self.drops = 0
        self.disabled = False
        self.status = "idle"
        self.last_error: str | None = None

    # -- producer side (any thread, never blocks) ------------------------------------------------

    def offer(self, hook: str, function: Callable[..., Any], args: tuple[Any, ...]) -> bool:
        """Queue one call; False (and a counted drop when the queue is full) if it was not queued."""
        with self._cond:
            if self.disabled or self._closing:
                return False
            if len(self._items) >= self.queue_size:
                self.drops += 1
                if self._full_since is None:
                    self._full_since = self._clock()
                return False
            self._items.append((hook, function, args))
            self._inflight.add()
            self._cond.notify()
            return True

    @property
    def queue_depth(self) -> int:
        return len(self._items)

    # -- lifecycle --------------------------------------------------------------------------------

    def start(self) -> None:
        """Start the thread (a daemon: a plugin stuck in a call never keeps the process alive)."""
        self.status = "running"
        self._thread = threading.Thread(target=self._run, name=f"rsu-plugin-{self.name}", daemon=True)
        self._thread.start()

    def close(self, deadline: float) -> bool:
        """Stop accepting, drain what is queued until ``deadline``, then stop the thread.

        :returns: True when the thread finished; False when the plugin was still busy at the deadline
            (what was left in its queue is discarded and counted as drops).
        """
        with self._cond:
            self._closing = True
            self._cond.notify_all()
        if self._thread is None:
            return True
        self._thread.join(max(0.0, deadline - time.monotonic()))
        if not self._thread.is_alive():
            return True
        with self._cond:
            self._abort = True
            left = len(self._items)
            self.drops += left
            self._inflight.done(left)
            self._items.clear()
            self._cond.notify_all()
        self.log.warning("plugin %s did not drain before the stop deadline; %d queued products dropped",
                         self.name, left)
        return False

    # -- worker thread ----------------------------------------------------------------------------

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._items and not self._closing:
                    self._cond.wait()
                if self._abort or not self._items:
                    break
                hook, function, args = self._items.popleft()
                self._full_since = None
            try:
                self.call(hook, function, args)
            finally:
                self._inflight.done()
        if not self.disabled:
            self.status = "stopped"

    def call(self, hook: str, function: Callable[..., Any], args: tuple[Any, ...]) -> bool:
        """Call one implementation now, counting the outcome; True when it returned normally."""
        if self.disabled:
            return False
        try:
            function(*args)
        except Exception as exc:  # noqa: BLE001 - isolation: blame the plugin, keep the box running
            self.calls += 1
            self.errors += 1
            self.consecutive_errors += 1
            self.last_error = f"{hook}: {type(exc).__name__}: {exc}"
            self.log.exception("plugin %s failed in %s (%d in a row)", self.name, hook, self.consecutive_errors)
            if self.consecutive_errors >= self.failure_limit:
                self.disable(f"{self.consecutive_errors} consecutive failures; last: {self.last_error}")
            return False
        self.calls += 1
        self.consecutive_errors = 0
        return True

    def disable(self, reason: str) -> None:
        """Disable the plugin: discard its queue, refuse further products, report once."""
        with self._cond:
            if self.disabled:
                return
            self.disabled = True
            self.status = f"disabled: {reason}"
            self._inflight.done(len(self._items))
            self._items.clear()
            self._cond.notify_all()
        self.log.error("plugin %s disabled: %s", self.name, reason)
        if self._on_disabled is not None:
            try:
                self._on_disabled(self.name, reason)
            except Exception:  # noqa: BLE001 - reporting must not kill the worker
                self.log.exception("reporting that plugin %s was disabled failed", self.name)

    def current_status(self) -> str:
        """``status``, or ``stalled`` while running with a queue full for ``stall_after_s`` or longer."""
        with self._cond:
            since, status = self._full_since, self.status
            if status != "running" or since is None or self._clock() - since < self.stall_after_s:
                return status
            if self._reported_stall != since:  # once per stall
                self._reported_stall = since
                self.stalls += 1
                self.log.error("plugin %s stalled: its queue of %d has been full for %.0f s",
                               self.name, self.queue_size, self._clock() - since)
            return "stalled"

    def stats(self) -> dict[str, Any]:
        """Counters for ``PluginHost.stats()`` and the run summary."""
        status = self.current_status()
        return {
            "calls": self.calls, "errors": self.errors, "consecutive_errors": self.consecutive_errors,
            "drops": self.drops, "queue_depth": self.queue_depth, "disabled": self.disabled,
            "status": status, "stalls": self.stalls, "last_error": self.last_error,
        }
