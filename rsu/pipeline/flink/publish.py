"""Flink -> host output: the job pushes its products over ZeroMQ (PUSH) to the host, one message per
micro-batch (a list of outputs), whose receiver hands
it to the Box; there it leaves through the ZeroMQ publisher and the plugins like any other product.
(``execute_and_collect`` is a debug path at about 500 records/s; it is not used.)"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

import zmq

from rsu.core.stats import LatencyReservoir
from rsu.pipeline.codec import decode_out_batch, encode_out, encode_out_batch

__all__ = ["JobPusher", "ProductReceiver"]

log = logging.getLogger(__name__)


class JobPusher:
    """Inside the job: a PUSH socket connected to the host's receiver (created lazily, per worker)."""

    def __init__(self, endpoint: str) -> None:
        self.endpoint = endpoint
        self._sock: zmq.Socket | None = None

    def open(self) -> None:
        ctx = zmq.Context.instance()
        self._sock = ctx.socket(zmq.PUSH)
        self._sock.setsockopt(zmq.SNDHWM, 100_000)
        self._sock.setsockopt(zmq.LINGER, 5_000)
        self._sock.connect(self.endpoint)

    def push(self, product: Any, operator: str, t_fed_ns: int, t_operator_ns: int) -> None:
        if self._sock is None:
            self.open()
        self._sock.send(encode_out(product, operator, t_fed_ns, t_operator_ns))  # type: ignore[union-attr]

    def push_many(self, outputs: list[tuple[Any, str, int, int]]) -> None:
        """Several outputs (one micro-batch) in one message."""
        if self._sock is None:
            self.open()
        self._sock.send(encode_out_batch(outputs))  # type: ignore[union-attr]

    def close(self) -> None:
        if self._sock is not None:
            self._sock.close()
            self._sock = None


class ProductReceiver:
    """On the host: binds a PULL socket at ``endpoint`` (``tcp://127.0.0.1:0`` picks a port) and calls
    ``emit(product)`` for each product the job sends, on its own thread."""

    def __init__(self, endpoint: str, emit: Callable[[Any], None],
                 on_lag: Callable[[float], None] | None = None) -> None:
        self._ctx = zmq.Context.instance()
        self._sock = self._ctx.socket(zmq.PULL)
        self._sock.setsockopt(zmq.RCVHWM, 100_000)
        self._sock.bind(endpoint)
        self.endpoint = self._sock.getsockopt(zmq.LAST_ENDPOINT).decode()
        self._emit = emit
        self._on_lag = on_lag  # gets each output's feed -> operator time (s): the feeder's back-pressure signal
        self._stop = threading.Event()
        self.counts: dict[str, int] = {"received": 0, "bad": 0, "emit_errors": 0}
        self.per_operator: dict[str, int] = {}
        self.to_operator = LatencyReservoir()
        self.to_host = LatencyReservoir()
        self.last_received = time.monotonic()
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._loop, name="flink-receiver", daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        poller = zmq.Poller()
        poller.register(self._sock, zmq.POLLIN)
        while not self._stop.is_set():
            if not poller.poll(50):
                continue
            while True:
                try:
                    data = self._sock.recv(zmq.NOBLOCK)
                except zmq.Again:
                    break
                now = time.time_ns()
                try:
                    outputs = decode_out_batch(data)
                except Exception:
                    self.counts["bad"] += 1
                    continue
                for product, op, t_fed, t_op in outputs:
                    with self._lock:
                        self.counts["received"] += 1
                        self.per_operator[op] = self.per_operator.get(op, 0) + 1
                        self.to_operator.add((t_op - t_fed) / 1e6)
                    if self._on_lag is not None and t_fed != t_op:  # timer outputs carry no feed time
                        self._on_lag((t_op - t_fed) / 1e9)
                        self.to_host.add((now - t_fed) / 1e6)
                        self.last_received = time.monotonic()
                    try:
                        self._emit(product)
                    except Exception:
                        self.counts["emit_errors"] += 1
                        log.exception("handing a %s from the flink job on failed", type(product).__name__)

    def wait_quiet(self, quiet_s: float, timeout: float) -> None:
        """Return once nothing has arrived for ``quiet_s`` (or after ``timeout``)."""
        end = time.monotonic() + timeout
        while time.monotonic() < end and time.monotonic() - self.last_received < quiet_s:
            time.sleep(0.02)

    def close(self) -> None:
        self._stop.set()
        self._thread.join(5)
        self._sock.close(linger=0)

    def stats(self) -> dict[str, Any]:
        with self._lock:
            return {**self.counts, "per_operator": dict(self.per_operator),
                    "feed_to_operator": self.to_operator.percentiles(), "feed_to_host": self.to_host.percentiles()}
