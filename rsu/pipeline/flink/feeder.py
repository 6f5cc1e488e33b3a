"""Host -> Flink input: a TCP server that the job's ``socketTextStream`` source connects to.

Why a socket and not a monitored ``FileSource``: the socket delivers each product in about a millisecond,
while a file source only sees new data at its discovery interval (seconds) and needs files rotated and
cleaned up. The cost: a socket source cannot be replayed, so after a job restart the host resends only what
comes next (state is restored from Flink's checkpoint; see docs/pipeline.md).
"""

from __future__ import annotations

import collections
import logging
import socket
import threading
import time
from typing import Any

from rsu.pipeline.codec import encode_line

__all__ = ["SocketFeeder"]

log = logging.getLogger(__name__)


class SocketFeeder:
    """Listens on ``host:port`` (0 = any free port); ``send`` writes one line per product to the connected job.

    Until the job connects, up to ``backlog`` lines wait in memory (older ones are dropped, counted).
    """

    def __init__(self, host: str = "127.0.0.1", port: int = 0, *, backlog: int = 100_000) -> None:
        self._srv = socket.create_server((host, port))
        self.host, self.port = self._srv.getsockname()[:2]
        self._conn: socket.socket | None = None
        self._pending: collections.deque[bytes] = collections.deque(maxlen=backlog)
        self._lock = threading.Lock()
        self._connected = threading.Event()
        self.counts = {"sent": 0, "buffered": 0, "dropped": 0, "errors": 0}
        self._thread = threading.Thread(target=self._accept, name="flink-feeder", daemon=True)
        self._thread.start()

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
        with self._lock:
            self._conn = conn
            while self._pending:
                self._write(self._pending.popleft())
        self._connected.set()

    def wait_connected(self, timeout: float) -> bool:
        return self._connected.wait(timeout)

    def _write(self, line: bytes) -> None:
        try:
            self._conn.sendall(line)  # type: ignore[union-attr]
            self.counts["sent"] += 1
        except OSError:
            self.counts["errors"] += 1

    def send(self, element: Any, t_fed_ns: int | None = None) -> None:
        line = encode_line(element, time.time_ns() if t_fed_ns is None else t_fed_ns)
        with self._lock:
            if self._conn is None:
                if len(self._pending) == self._pending.maxlen:
                    self.counts["dropped"] += 1
                self._pending.append(line)
                self.counts["buffered"] += 1
            else:
                self._write(line)

    def close(self) -> None:
        """End the input: the job's source sees end of stream (its end-of-input timers fire)."""
        with self._lock:
            if self._conn is not None:
                try:
                    self._conn.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                self._conn.close()
                self._conn = None
        self._srv.close()

    def stats(self) -> dict[str, Any]:
        return {**self.counts, "address": f"{self.host}:{self.port}", "connected": self._connected.is_set()}
