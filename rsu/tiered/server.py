"""``rsu serve-inference``: the edge server running the larger detector behind a ROUTER socket.

Each round it takes every request waiting, keeps only the newest per box (older ones are answered
``dropped``: their boxes have fallen back already), runs the detector on them in one call and answers each.
A request it cannot read is answered ``error`` (when it has an id) and counted; it never stops the server.

Hostile input: a body over ``limits.max_bytes`` is refused (ZeroMQ drops a connection whose message part is far
larger, ``MAXMSGSIZE``, before allocating it); an empty body, a non-JPEG and a JPEG whose *header* claims more
than ``limits.max_side``/``max_pixels`` are refused without decoding (:mod:`rsu.tiered.jpeg`); header fields are
type- and range-checked. Each refusal is counted under ``rejected`` by reason. With ``curve`` only clients whose
public key is authorised complete the handshake; a bind beyond loopback without it refuses to start.
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

from rsu.tiered.jpeg import ImageLimits, ImageRejected, decode_limited
from rsu.tiered.protocol import ProtocolError, detections_body, pack, unpack
from rsu.tiered.security import configure_curve_server, insecure_bind_problem

__all__ = ["InferenceServer"]

log = logging.getLogger(__name__)

MAX_SOURCE_CHARS = 128
INT64_MAX = 2**63 - 1
MAX_DRAIN = 256  # requests read per round at most (the socket's RCVHWM)
HEADER_SLACK_BYTES = 64 * 1024  # MAXMSGSIZE = the image limit + this: a header is never larger


def _header_fields(header: dict[str, Any]) -> tuple[str, int, int]:
    """``(source, frame_id, t_event_ns)`` of a request; ProtocolError naming the field that is out of range."""
    source = header.get("source", "remote")
    if not isinstance(source, str) or not 0 < len(source) <= MAX_SOURCE_CHARS:
        raise ProtocolError(f"header 'source' must be a string of 1-{MAX_SOURCE_CHARS} characters")
    values = {}
    for key in ("frame_id", "t_event_ns"):
        value = header.get(key, 0)
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= INT64_MAX:
            raise ProtocolError(f"header {key!r} must be an integer in [0, 2^63), got {str(value)[:32]!r}")
        values[key] = value
    return source, values["frame_id"], values["t_event_ns"]


class InferenceServer:
    """Serves ``detector`` (a :class:`rsu.inference.detector.Detector`) at ``bind``."""

    def __init__(self, detector: Any, bind: str, *, context: zmq.Context | None = None,
                 limits: ImageLimits | None = None, curve: Any = None) -> None:
        """``curve``: a :class:`~rsu.config.publish.CurveConfig` (CURVE with its own context and ZAP handler).

        :raises ValueError: a bind beyond loopback without ``curve``, or unreadable key files."""
        problem = insecure_bind_problem(bind, curve, "tiered.server.curve")
        if problem:
            raise ValueError(f"tiered.server: {problem}")
        self.detector = detector
        self.limits = limits or ImageLimits()
        self._own_ctx = curve is not None and context is None
        self._ctx = zmq.Context() if self._own_ctx else (context or zmq.Context.instance())
        self._auth: Any = None
        self._sock = self._ctx.socket(zmq.ROUTER)
        self._sock.setsockopt(zmq.LINGER, 0)
        self._sock.setsockopt(zmq.RCVHWM, 256)
        self._sock.setsockopt(zmq.ROUTER_MANDATORY, 0)
        self._sock.setsockopt(zmq.MAXMSGSIZE, self.limits.max_bytes + HEADER_SLACK_BYTES)
        try:
            if curve is not None:
                self._auth = configure_curve_server(self._ctx, self._sock, curve, "tiered.server")
            self._sock.bind(bind)
        except Exception:
            self._close_socket()
            raise
        self.endpoint = self._sock.getsockopt_string(zmq.LAST_ENDPOINT)
        self.curve = curve is not None
        self.counts: Counter[str] = Counter()
        self.rejected: Counter[str] = Counter()
        self.infer_ms_total = 0.0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @classmethod
    def from_config(cls, cfg: Any, protection: Any = None) -> InferenceServer:
        """From ``tiered.server`` (an :class:`~rsu.config.tiered.InferenceServerConfig`)."""
        from rsu.inference.detector import Detector

        problem = insecure_bind_problem(cfg.bind, cfg.curve, "tiered.server.curve")
        if problem:  # before loading the model: the refusal is immediate
            raise ValueError(f"tiered.server: {problem}")
        limits = ImageLimits(max_bytes=cfg.max_request_bytes, max_side=cfg.max_image_side,
                             max_pixels=cfg.max_image_pixels)
        return cls(Detector.from_config(cfg.detector, protection=protection), cfg.bind, limits=limits,
                   curve=cfg.curve)

    # ------------------------------------------------------------------ serving
    def serve(self, should_stop: Callable[[], bool] | None = None, poll_ms: int = 100) -> None:
        """Answer requests until ``should_stop()`` (or :meth:`stop`)."""
        stop = should_stop or (lambda: False)
        poller = zmq.Poller()
        poller.register(self._sock, zmq.POLLIN)
        while not (self._stop.is_set() or stop()):
            if poller.poll(poll_ms):
                try:
                    self.handle_pending()
                except Exception:  # noqa: BLE001 - whatever one round met, the server serves on (counted)
                    self.counts["internal_errors"] += 1
                    log.exception("inference server: a round failed; serving on")

    def handle_pending(self) -> int:
        """Read every waiting request, answer the newest per peer; returns how many were run."""
        newest: dict[bytes, tuple[dict[str, Any], bytes]] = {}
        for _ in range(MAX_DRAIN):  # bounded: a flood cannot keep one round from answering
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
                self._error(peer, None, str(exc), "bad_request")
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
                source, frame_id, t_event_ns = _header_fields(header)  # first: a bad request decodes nothing
                frame = Frame(source=source, t_event_ns=t_event_ns, frame_id=frame_id,
                              image=decode_limited(jpeg, self.limits))
            except ImageRejected as exc:
                self._error(peer, header["id"], str(exc), exc.reason)
                continue
            except (ProtocolError, TypeError, ValueError) as exc:
                self._error(peer, header["id"], str(exc), "bad_request")
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
                self._error(peer, header["id"], f"detector failed: {type(exc).__name__}", "detector_failed")
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

    def _error(self, peer: bytes, req_id: int | None, message: str, reason: str) -> None:
        self.counts["errors"] += 1
        self.rejected[reason] += 1
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
        self._close_socket()

    def _close_socket(self) -> None:
        self._sock.close(0)
        if self._auth is not None:
            self._auth.stop()
            self._auth = None
        if self._own_ctx:
            self._ctx.term()

    def stats(self) -> dict[str, Any]:
        answered = self.counts["answered"]
        return {"endpoint": self.endpoint, "curve": self.curve, **dict(self.counts), "rejected": dict(self.rejected),
                "infer_ms_mean": round(self.infer_ms_total / answered, 3) if answered else None}
