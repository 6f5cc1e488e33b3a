"""``rsu serve-inference``: the edge server running the larger detector behind a ROUTER socket.

Each round it takes every request waiting, keeps only the newest per box (older ones are answered
``dropped``: their boxes have fallen back already), runs the detector on them in one call and answers each.
A request it cannot read is answered ``error`` (when it has an id) and counted; it never stops the server.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter
from collections.abc import Callable
from typing import Any

import zmq
from rsu_sdk import Frame

from rsu.tiered.protocol import ProtocolError, decode_jpeg, detections_body, pack, unpack

__all__ = ["InferenceServer"]

log = logging.getLogger(__name__)


class InferenceServer:
    """Serves ``detector`` (a :class:`rsu.inference.detector.Detector`) at ``bind``."""

    def __init__(self, detector: Any, bind: str, *, context: zmq.Context | None = None) -> None:
        self.detector = detector
        self._ctx = context or zmq.Context.instance()
        self._sock = self._ctx.socket(zmq.ROUTER)
        self._sock.setsockopt(zmq.LINGER, 0)
        self._sock.setsockopt(zmq.RCVHWM, 256)
        self._sock.setsockopt(zmq.ROUTER_MANDATORY, 0)
        self._sock.bind(bind)
        self.endpoint = self._sock.getsockopt_string(zmq.LAST_ENDPOINT)
        self.counts: Counter[str] = Counter()
        self.infer_ms_total = 0.0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @classmethod
    def from_config(cls, cfg: Any, protection: Any = None) -> InferenceServer:
        """From ``tiered.server`` (an :class:`~rsu.config.tiered.InferenceServerConfig`)."""
        from rsu.inference.detector import Detector

        return cls(Detector.from_config(cfg.detector, protection=protection), cfg.bind)

    # ------------------------------------------------------------------ serving
    def serve(self, should_stop: Callable[[], bool] | None = None, poll_ms: int = 100) -> None:
        """Answer requests until ``should_stop()`` (or :meth:`stop`)."""
        stop = should_stop or (lambda: False)
        poller = zmq.Poller()
        poller.register(self._sock, zmq.POLLIN)
        while not (self._stop.is_set() or stop()):
            if poller.poll(poll_ms):
                self.handle_pending()

    def handle_pending(self) -> int:
        """Read every waiting request, answer the newest per peer; returns how many were run."""
        newest: dict[bytes, tuple[dict[str, Any], bytes]] = {}
        while True:
            try:
                frames = self._sock.recv_multipart(flags=zmq.NOBLOCK)
            except zmq.Again:
                break
            self.counts["requests"] += 1
            peer, body = frames[0], frames[1:]
            try:
                header, rest = unpack(body)
                if len(rest) != 1:
                    raise ProtocolError(f"expected one JPEG frame after the header, got {len(rest)}")
            except ProtocolError as exc:
                self._error(peer, None, str(exc))
                continue
            old = newest.get(peer)
            if old is not None:
                self.counts["dropped"] += 1
                self._send(peer, {"id": old[0]["id"], "status": "dropped", "error": "superseded by a newer frame"})
            newest[peer] = (header, rest[0])
        if not newest:
            return 0
        frames_in: list[tuple[bytes, dict[str, Any], Frame]] = []
        for peer, (header, jpeg) in newest.items():
            try:
                image = decode_jpeg(jpeg)
                frame = Frame(source=str(header.get("source", "remote")), t_event_ns=int(header.get("t_event_ns", 0)),
                              frame_id=int(header.get("frame_id", 0)), image=image)
            except (ProtocolError, TypeError, ValueError) as exc:
                self._error(peer, header["id"], str(exc))
                continue
            frames_in.append((peer, header, frame))
        if not frames_in:
            return 0
        t0 = time.perf_counter()
        try:
            results = self.detector.detect([f for _, _, f in frames_in])
        except Exception as exc:  # a model failure answers error, never kills the server
            log.exception("detector failed on %d frame(s)", len(frames_in))
            for peer, header, _ in frames_in:
                self._error(peer, header["id"], f"detector failed: {type(exc).__name__}")
            return 0
        ms = (time.perf_counter() - t0) * 1e3
        self.infer_ms_total += ms
        for (peer, header, _), dets in zip(frames_in, results):
            self._send(peer, detections_body(header["id"], dets, ms / len(frames_in)))
            self.counts["answered"] += 1
        return len(frames_in)

    def _send(self, peer: bytes, doc: dict[str, Any]) -> None:
        try:
            self._sock.send_multipart([peer, *pack(doc)], flags=zmq.NOBLOCK)
        except zmq.ZMQError:  # the box went away or its queue is full: its request falls back there
            self.counts["reply_failed"] += 1

    def _error(self, peer: bytes, req_id: int | None, message: str) -> None:
        self.counts["errors"] += 1
        if self.counts["errors"] <= 5:
            log.warning("bad offload request: %s", message)
        if req_id is not None:
            self._send(peer, {"id": req_id, "status": "error", "error": message[:200]})

    # ------------------------------------------------------------------ thread helpers
    def start(self) -> InferenceServer:
        """Serve on a background thread (tests, embedding)."""
        self._thread = threading.Thread(target=self.serve, name="inference-server", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5.0)
            self._thread = None

    def close(self) -> None:
        self.stop()
        self._sock.close(0)

    def stats(self) -> dict[str, Any]:
        answered = self.counts["answered"]
        return {"endpoint": self.endpoint, **dict(self.counts),
                "infer_ms_mean": round(self.infer_ms_total / answered, 3) if answered else None}
