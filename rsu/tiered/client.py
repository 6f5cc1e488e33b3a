"""The box side of offloading: one DEALER socket, one request in flight, a hard deadline.

``infer`` never blocks longer than the deadline it is given: sending does not wait (``IMMEDIATE`` plus
``NOBLOCK``: no connected server or a full queue is an immediate failure), and the wait for the answer is a
``poll`` bounded by the time left. Answers that arrive after their deadline are recognised by id and discarded
(counted ``late``). Each outcome is counted; round-trip times of answered requests are kept for p50/p99.

The server's answer is not trusted: shapes, finite values, scores in [0, 1], class ids and boxes inside the
image that was sent are checked (:meth:`Reply.from_doc`); a bad answer is counted ``bad_reply`` and the frame
falls back to the local result. With ``curve`` the link is CURVE-encrypted and the server authenticates the box.
"""

from __future__ import annotations

import logging
import time
from collections import Counter, deque
from typing import Any

import numpy as np
import zmq

from rsu.tiered.protocol import ProtocolError, Reply, pack, sent_size, unpack
from rsu.tiered.security import configure_curve_client, is_loopback

__all__ = ["OffloadClient"]

log = logging.getLogger(__name__)


class OffloadClient:
    """Requests detections from the server at ``endpoint``.

    Outcomes (``counts``): ``answered``, ``timeout`` (no answer within the deadline), ``send_failed`` (no server
    connected, or its queue is full), ``server_error`` (the server answered ``error``/``dropped``),
    ``bad_reply``; ``late`` counts answers that came after their request had already fallen back.
    """

    def __init__(self, endpoint: str, *, context: zmq.Context | None = None, rtt_window: int = 10_000,
                 curve: Any = None) -> None:
        """``curve``: a :class:`~rsu.config.tiered.ClientCurveConfig` (server's public key, box's secret key)."""
        self.endpoint = endpoint
        self._ctx = context or zmq.Context.instance()
        self._sock = self._ctx.socket(zmq.DEALER)
        if curve is not None:
            try:
                configure_curve_client(self._sock, curve, "tiered")
            except Exception:
                self._sock.close(0)
                raise
        elif not is_loopback(endpoint):
            log.warning("tiered.endpoint %s is beyond loopback without CURVE (tiered.curve): frames travel in "
                        "clear and the server cannot tell this box from anyone", endpoint)
        self._sock.setsockopt(zmq.LINGER, 0)
        self._sock.setsockopt(zmq.IMMEDIATE, 1)
        self._sock.setsockopt(zmq.SNDHWM, 4)
        self._sock.setsockopt(zmq.RCVHWM, 64)
        # watched until the first connection is up (wait_connected), then no longer
        # with CURVE a TCP connection is not enough: sends go once the security handshake succeeded
        self._up_events = zmq.EVENT_HANDSHAKE_SUCCEEDED | (0 if curve is not None else zmq.EVENT_CONNECTED)
        self._monitor: zmq.Socket | None = self._sock.get_monitor_socket(self._up_events)
        self.connected = False
        self._sock.connect(endpoint)
        self._poller = zmq.Poller()
        self._poller.register(self._sock, zmq.POLLIN)
        self._next_id = 1
        self.counts: Counter[str] = Counter()
        self.rtt_ms: deque[float] = deque(maxlen=rtt_window)

    def infer(self, header: dict[str, Any], jpeg: bytes, deadline_s: float) -> Reply | None:
        """Send one frame and wait for its answer until ``deadline_s`` (``time.perf_counter`` clock).

        Returns the answer, or None (the outcome is counted) when it failed or did not come in time."""
        req_id = self._next_id
        self._next_id += 1
        image_size = self._sent_size(header)
        t0 = time.perf_counter()
        self.counts["sent"] += 1
        try:
            self._sock.send_multipart(pack({**header, "id": req_id}, jpeg), flags=zmq.NOBLOCK, copy=False)
        except zmq.Again:
            self.counts["send_failed"] += 1
            return None
        while True:
            left_ms = (deadline_s - time.perf_counter()) * 1e3
            if left_ms <= 0 or not self._poller.poll(max(1, int(left_ms))):
                if time.perf_counter() < deadline_s:
                    continue  # poll granularity is 1 ms: wait out the rest
                self.counts["timeout"] += 1
                return None
            try:
                doc, _ = unpack(self._sock.recv_multipart(flags=zmq.NOBLOCK))
            except zmq.Again:
                continue
            except ProtocolError as exc:
                self.counts["bad_reply"] += 1
                log.warning("offload server %s: %s", self.endpoint, exc)
                continue
            if doc["id"] != req_id or isinstance(doc["id"], bool):
                self.counts["late"] += 1  # the answer to a request that already fell back
                continue
            if doc.get("status") not in ("ok", "error", "dropped"):
                self.counts["bad_reply"] += 1
                log.warning("offload server %s: reply %d has status %r", self.endpoint, req_id,
                            str(doc.get("status"))[:32])
                return None
            if doc.get("status") != "ok":
                self.counts["server_error"] += 1
                if self.counts["server_error"] <= 5:
                    log.warning("offload server %s answered %s: %s", self.endpoint, doc.get("status"),
                                str(doc.get("error", ""))[:200])
                return None
            try:
                reply = Reply.from_doc(doc, image_size)
            except ProtocolError as exc:
                self.counts["bad_reply"] += 1
                log.warning("offload server %s: %s", self.endpoint, exc)
                return None
            self.counts["answered"] += 1
            self.rtt_ms.append((time.perf_counter() - t0) * 1e3)
            return reply

    @staticmethod
    def _sent_size(header: dict[str, Any]) -> tuple[int, int] | None:
        """The sent image's ``(width, height)`` from the request header (``size`` and ``scale``), if given."""
        size, scale = header.get("size"), header.get("scale", 1.0)
        if not (isinstance(size, (list, tuple)) and len(size) == 2):
            return None
        return sent_size((int(size[0]), int(size[1])), float(scale))

    def wait_connected(self, timeout_s: float) -> bool:
        """Until the first connection to the server is up (True) or ``timeout_s`` passes (False). Optional:
        until then ``infer`` fails at once (``send_failed``) and the box answers locally."""
        from zmq.utils.monitor import recv_monitor_message

        end = time.monotonic() + timeout_s
        while not self.connected and self._monitor is not None and (left := end - time.monotonic()) > 0:
            if self._monitor.poll(int(left * 1000) + 1):
                if recv_monitor_message(self._monitor)["event"] & self._up_events:
                    self.connected = True
                    self._stop_monitor()
        return self.connected

    def _stop_monitor(self) -> None:
        if self._monitor is not None:
            self._sock.disable_monitor()
            self._monitor.close(0)
            self._monitor = None

    def rtt_percentiles(self) -> dict[str, float | None]:
        if not self.rtt_ms:
            return {"p50_ms": None, "p99_ms": None, "max_ms": None}
        a = np.asarray(self.rtt_ms)
        return {"p50_ms": round(float(np.percentile(a, 50)), 3), "p99_ms": round(float(np.percentile(a, 99)), 3),
                "max_ms": round(float(a.max()), 3)}

    def close(self) -> None:
        self._stop_monitor()
        self._sock.close(0)
