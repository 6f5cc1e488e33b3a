"""One plugin's worker: a two-lane queue (:mod:`rsu.plugins.queues`), a thread, and the counters that isolate it.

:meth:`PluginWorker.offer` never drops a safety product and never blocks for a non-safety one: those are queued
newest-wins per source (an older queued product of the same stream is superseded) and a full queue sheds its
oldest, both counted in ``shed`` (and ``drops``). Safety products go to a FIFO the plugin receives first; only
when it holds ``safety_queue_size`` products does the offering thread wait for room (``waiting`` while it waits,
``safety_waits`` counts the waits): back-pressure, never a drop. The thread calls the plugin's hook
implementations one at a time inside a try/except; ``failure_limit`` failures in a row disable the plugin and
call ``on_disabled`` once. A running plugin that has had products waiting for ``stall_after_s`` without taking
one (blocked, or far too slow) reports status ``stalled`` until it takes a product again.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Hashable
from typing import Any

from rsu.plugins.queues import Call, PluginQueue

__all__ = ["Call", "InFlight", "PluginWorker"]


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
    :param queue_size: non-safety products buffered before the oldest is shed.
    :param failure_limit: consecutive failures that disable the plugin.
    :param on_disabled: called once, on the worker thread, with ``(name, reason)`` when disabled.
    :param inflight: shared counter of queued and running calls (see :class:`InFlight`).
    :param stall_after_s: products waiting this long without the plugin taking one make the status ``stalled``.
    :param safety_queue_size: safety products buffered before :meth:`offer` waits for room.
    :param newest_wins: a non-safety product supersedes the queued one of the same stream (else all are queued).
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
        safety_queue_size: int = 100_000,
        newest_wins: bool = True,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if queue_size < 1 or failure_limit < 1 or safety_queue_size < 1:
            raise ValueError(f"plugin {name}: queue_size, safety_queue_size and failure_limit must be >= 1")
        self.name = name
        self.queue_size = queue_size
        self.failure_limit = failure_limit
        self.log = logger
        self._on_disabled = on_disabled
        self._inflight = inflight or InFlight()
        self.stall_after_s = stall_after_s
        self._clock = clock
        self._queue = PluginQueue(queue_size, safety_queue_size, newest_wins=newest_wins)
        self._lock = threading.Lock()
        self._has_items = threading.Condition(self._lock)
        self._has_room = threading.Condition(self._lock)
        self._pending_since: float | None = None  # products have waited since, without the plugin taking one
        self._reported_stall: float | None = None
        self.stalls = 0
        self._closing = False
        self._abort = False
        self._thread: threading.Thread | None = None
        self.calls = 0
        self.errors = 0
        self.consecutive_errors = 0
        self.lost_at_stop = 0
        self.safety_waits = 0
        self.waiting = 0
        self.disabled = False
        self.status = "idle"
        self.last_error: str | None = None

    # -- producer side (any thread) --------------------------------------------------------------

    def offer(self, hook: str, function: Callable[..., Any], args: tuple[Any, ...], *, safety: bool = False,
              key: Hashable | None = None) -> bool:
        """Queue one call: a safety one in the never-dropping FIFO (waiting only while that is full), any other
        newest-wins under ``key`` (None: never superseded). False if not queued: disabled or closing."""
        with self._lock:
            if self.disabled or self._closing:
                return False
            if safety:
                if self._queue.safety_full() and not self._wait_for_safety_room():
                    return False
                self._queue.put_safety((hook, function, args))
                self._inflight.add()
            elif not self._queue.put((hook, function, args), key):  # 1: it took a shed one's place
                self._inflight.add()
            if self._pending_since is None:
                self._pending_since = self._clock()
            self._has_items.notify()
            return True

    def _wait_for_safety_room(self) -> bool:
        """Back-pressure (lock held): wait until the safety lane has room; False if the plugin was disabled or
        aborted meanwhile (an aborted wait counts in ``drops``)."""
        self.safety_waits += 1
        self.waiting += 1
        if self.safety_waits & (self.safety_waits - 1) == 0:  # the 1st, 2nd, 4th, ... wait
            self.log.warning("plugin %s: its safety queue of %d is full; the caller waits (%d waits)", self.name,
                             self._queue.safety_size, self.safety_waits)
        try:
            while self._queue.safety_full() and not (self.disabled or self._abort):
                self._has_room.wait()
        finally:
            self.waiting -= 1
            self._has_items.notify_all()  # a closing worker waits for the last waiter
        if self._abort and not self.disabled:
            self.lost_at_stop += 1
        return not (self.disabled or self._abort)

    @property
    def queue_depth(self) -> int:
        return len(self._queue)

    @property
    def drops(self) -> int:
        """Products that never reached the plugin: shed (superseded or oldest) plus left at the stop deadline."""
        return self._queue.shed + self.lost_at_stop

    # -- lifecycle --------------------------------------------------------------------------------

    def start(self) -> None:
        """Start the thread (a daemon: a plugin stuck in a call never keeps the process alive)."""
        self.status = "running"
        self._thread = threading.Thread(target=self._run, name=f"rsu-plugin-{self.name}", daemon=True)
        self._thread.start()

    def close(self, deadline: float) -> bool:
        """Stop accepting, drain what is queued until ``deadline``, then stop the thread.

        :returns: True when the thread finished; False when the plugin was still busy at the deadline
            (what was left in its queue, safety included, is discarded and counted as drops).
        """
        with self._lock:
            self._closing = True
            self._has_items.notify_all()
        if self._thread is None:
            return True
        self._thread.join(max(0.0, deadline - time.monotonic()))
        if not self._thread.is_alive():
            return True
        with self._lock:
            self._abort = True
            safety, normal = self._queue.clear()
            self.lost_at_stop += safety + normal
            self._inflight.done(safety + normal)
            self._has_items.notify_all()
            self._has_room.notify_all()
        self.log.warning("plugin %s did not drain before the stop deadline; %d queued products dropped "
                         "(%d safety)", self.name, safety + normal, safety)
        return False

    # -- worker thread ----------------------------------------------------------------------------

    def _run(self) -> None:
        while True:
            with self._lock:
                while not self._queue and not (self._closing and self.waiting == 0):
                    self._has_items.wait()
                item = None if self._abort else self._queue.take()
                if item is None:
                    break
                self._pending_since = self._clock() if self._queue else None
                self._has_room.notify_all()
            try:
                self.call(*item)
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
        """Disable the plugin: discard its queue, refuse further products (waiting callers too), report once."""
        with self._lock:
            if self.disabled:
                return
            self.disabled = True
            self.status = f"disabled: {reason}"
            self._inflight.done(sum(self._queue.clear()))
            self._pending_since = None
            self._has_items.notify_all()
            self._has_room.notify_all()
        self.log.error("plugin %s disabled: %s", self.name, reason)
        if self._on_disabled is not None:
            try:
                self._on_disabled(self.name, reason)
            except Exception:  # noqa: BLE001 - reporting must not kill the worker
                self.log.exception("reporting that plugin %s was disabled failed", self.name)

    def current_status(self) -> str:
        """``status``, or ``stalled`` while running with products waiting ``stall_after_s`` or longer untaken."""
        with self._lock:
            since, status = self._pending_since, self.status
            if status != "running" or since is None or self._clock() - since < self.stall_after_s:
                return status
            if self._reported_stall != since:  # once per stall
                self._reported_stall = since
                self.stalls += 1
                self.log.error("plugin %s stalled: %d products have waited %.0f s without it taking one",
                               self.name, len(self._queue), self._clock() - since)
            return "stalled"

    def stats(self) -> dict[str, Any]:
        """Counters for ``PluginHost.stats()``, the heartbeat's details and the run summary."""
        status = self.current_status()
        q = self._queue
        with self._lock:
            return {
                "calls": self.calls, "errors": self.errors, "consecutive_errors": self.consecutive_errors,
                "drops": self.drops, "shed": q.shed, "superseded": q.superseded, "lost_at_stop": self.lost_at_stop,
                "queue_depth": len(q), "safety_queued": q.safety_depth, "safety_total": q.safety_total,
                "safety_max_depth": q.safety_max_depth, "safety_waits": self.safety_waits,
                "waiting": self.waiting, "disabled": self.disabled, "status": status, "stalls": self.stalls,
                "last_error": self.last_error,
            }
