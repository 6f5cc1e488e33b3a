"""Host -> Flink input: a TCP server that the job's ``socketTextStream`` source connects to.

Why a socket and not a monitored ``FileSource``: the socket delivers each product in about a millisecond,
while a file source only sees new data at its discovery interval (seconds) and needs files rotated and
cleaned up. The cost: a socket source cannot be replayed, so after a job restart the host resends only what
comes next (state is restored from Flink's checkpoint; see docs/pipeline.md). Products travel micro-batched, several
per line (see :class:`SocketFeeder`): each line costs the job several Java<->Python crossings.
"""

from __future__ import annotations

import collections
import logging
import socket
import threading
import time
from collections.abc import Callable
from typing import Any

from rsu.pipeline.codec import encode_batch_line

__all__ = ["SocketFeeder"]

log = logging.getLogger(__name__)


class SocketFeeder:
    """Listens on ``host:port`` (0 = any free port) and writes the products given to ``send`` to the connected
    job, micro-batched. Below ``batch_above_per_s`` products/s (arrival rate, smoothed) each product goes at
    once, as its own line (no added latency at low rates). Above it, lines are spaced by ``batch_wait_ms``: a
    product arriving on an empty queue when the previous line left at least that long ago still goes at once;
    otherwise a sender thread packs what waits (up to ``max_batch``, sooner if that many wait) into one line,
    so each of the job's Java<->Python crossings carries many products.

    Until the job connects, up to ``backlog`` products wait in memory (older ones are dropped, counted).
    ``monotonic`` is the clock of the spacing and the lag feedback (seconds; tests inject one).
    """

    def __init__(self, host: str = "127.0.0.1", port: int = 0, *, backlog: int = 100_000, max_batch: int = 64,
                 batch_wait_ms: float = 2.0, batch_above_per_s: float = 2_000.0,
                 monotonic: Callable[[], float] = time.monotonic) -> None:
        if max_batch < 1 or batch_wait_ms < 0:
            raise ValueError(f"feeder: need max_batch >= 1 and batch_wait_ms >= 0, got {max_batch}, {batch_wait_ms}")
        self._srv = socket.create_server((host, port))
        self.host, self.port = self._srv.getsockname()[:2]
        self._now = monotonic
        self.max_batch, self.batch_wait_s = max_batch, batch_wait_ms / 1000.0
        self._wait = self.batch_wait_s  # current spacing: batch_wait_ms, raised while the job lags (note_lag)
        self._lag_sum, self._lag_n, self._lag_tick = 0.0, 0, monotonic()
        self.backlog = backlog
        self._batch_dt = 1.0 / batch_above_per_s if batch_above_per_s > 0 else float("inf")
        self._dt_ewma = 1.0  # smoothed time between products (s)
        self._last_arrival = 0.0
        self._conn: socket.socket | None = None
        self._queue: collections.deque[tuple[int, Any]] = collections.deque()
        self._cond = threading.Condition()
        self._closing = False
        self._last_line = 0.0
        self._connected = threading.Event()
        self.counts = {"sent": 0, "lines": 0, "buffered": 0, "dropped": 0, "errors": 0, "largest_batch": 0}
        self._thread = threading.Thread(target=self._accept, name="flink-feeder", daemon=True)
        self._thread.start()
        self._sender = threading.Thread(target=self._send_loop, name="flink-feeder-send", daemon=True)
        self._sender.start()

    @property
    def address(self) -> tuple[str, int]:
        return self.host, self.port

    def _accept(self) -> None:
        try:
            conn, peer = self._srv.accept()
        except OSError:
            return  # closed before the job connected
        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        log.info("flink job connected from %s:%d", *peer[:2])
        with self._cond:
            self._conn = conn
            self._cond.notify_all()
        self._connected.set()

    def wait_connected(self, timeout: float) -> bool:
        return self._connected.wait(timeout)

    def send(self, element: Any, t_fed_ns: int | None = None) -> None:
        t = time.time_ns() if t_fed_ns is None else t_fed_ns
        with self._cond:
            if self._conn is None:
                self.counts["buffered"] += 1
            if len(self._queue) >= self.backlog:
                self._queue.popleft()
                self.counts["dropped"] += 1
            now = self._now()
            dt = now - self._last_arrival
            self._last_arrival = now
            self._dt_ewma = 0.8 * self._dt_ewma + 0.2 * min(dt, 1.0)
            if (not self._queue and self._conn is not None and not self._closing
                    and now - self._last_line >= self._spacing()):
                self._write([(t, element)])  # idle: straight out, no hand-off to the sender thread
                return
            self._queue.append((t, element))
            self._cond.notify()

    def _spacing(self) -> float:
        """Least time between lines now: ``batch_wait_ms`` above the batching rate, else none."""
        return self._wait if self._dt_ewma < self._batch_dt else 0.0

    def note_lag(self, lag_s: float) -> None:
        """Feedback from the job's outputs (feed -> operator time). Every 20 ms: a mean lag above twice the
        spacing + 2 ms means the job falls behind (a backlog the feeder cannot see), so lines are spaced 1.5x
        more (up to 8x ``batch_wait_ms``: fewer, fuller records); otherwise it relaxes toward the setting."""
        self._lag_sum += lag_s
        self._lag_n += 1
        now = self._now()
        if now - self._lag_tick < 0.02 or self.batch_wait_s <= 0:
            return
        w, lag = self._wait, self._lag_sum / self._lag_n
        if lag > 2 * w + 0.002:
            self._wait = min(1.5 * w, 8 * self.batch_wait_s)
        else:
            self._wait = max(self.batch_wait_s, 0.8 * w)
        self._lag_sum, self._lag_n, self._lag_tick = 0.0, 0, now

    def _write(self, batch: list[tuple[int, Any]]) -> None:
        """Write one line (called with the lock held, so lines never interleave or reorder)."""
        try:
            self._conn.sendall(encode_batch_line(batch))  # type: ignore[union-attr]
            self.counts["sent"] += len(batch)
            self.counts["lines"] += 1
            if len(batch) > self.counts["largest_batch"]:
                self.counts["largest_batch"] = len(batch)
        except OSError:
            self.counts["errors"] += len(batch)
        self._last_line = self._now()

    def _send_loop(self) -> None:
        """Write what waits, at most ``max_batch`` per line, lines spaced by ``batch_wait_ms`` under load."""
        q, cond = self._queue, self._cond
        with cond:
            while True:
                while (not q or self._conn is None) and not self._closing:
                    cond.wait()
                if not q or self._conn is None:
                    return  # closed and drained (or never connected)
                due = self._last_line + self._spacing()
                while len(q) < self.max_batch and not self._closing:
                    left = due - self._now()
                    if left <= 0:
                        break
                    cond.wait(left)
                self._write([q.popleft() for _ in range(min(len(q), self.max_batch))])

    def close(self, timeout: float = 10.0) -> None:
        """Write what waits, then end the input: the job's source sees end of stream (end-of-input timers fire)."""
        with self._cond:
            self._closing = True
            self._cond.notify_all()
        self._sender.join(timeout)
        with self._cond:
            if self._conn is not None:
                try:
                    self._conn.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                self._conn.close()
                self._conn = None
        self._srv.close()

    def stats(self) -> dict[str, Any]:
        return {**self.counts, "address": f"{self.host}:{self.port}", "connected": self._connected.is_set(),
                "max_batch": self.max_batch, "batch_wait_ms": self.batch_wait_s * 1000.0,
                "spacing_ms": round(self._wait * 1000.0, 3),
                "batch_above_per_s": round(1.0 / self._batch_dt, 1) if self._batch_dt != float("inf") else 0.0}
