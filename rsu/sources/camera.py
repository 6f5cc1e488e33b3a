"""Camera source on OpenCV: a file, an ``rtsp://`` URL, a V4L2 device or a GStreamer pipeline.

A grabber thread reads frames and stamps them with the capture time; with the default ``latest`` policy it
keeps only the newest frame, so a slow consumer never builds latency (replaced frames are counted as
dropped). A dropped stream, an unopenable URL or a missing device is reopened with exponential backoff and
reported as :class:`HealthEvent` values; it never raises out of :meth:`CameraSource.run`. A frame that is
not a 3-channel 8-bit image of at most 8192x8192 pixels counts as a bad read. Frames are stamped with the
box clock at capture.
"""

from __future__ import annotations

import collections
import logging
import os
import threading
import time
from collections.abc import Callable
from typing import Any

import cv2
import numpy as np
from rsu_sdk import Frame, HealthEvent, Product

from rsu.config.sources import CameraSourceConfig

__all__ = ["CameraSource", "open_capture"]

log = logging.getLogger(__name__)
Emit = Callable[[Product], None]


def open_capture(url: str, open_timeout_s: float = 10.0) -> tuple[Any, bool]:
    """Open ``url`` with the right OpenCV backend; returns ``(capture, is_file)``.

    ``gst:PIPELINE`` or a string with `` ! `` is a GStreamer pipeline (e.g. Jetson ``nvv4l2decoder``), digits or
    ``/dev/video*`` a V4L2 device, ``scheme://`` a network stream (FFmpeg), anything else a file.
    """
    params = [cv2.CAP_PROP_OPEN_TIMEOUT_MSEC, int(open_timeout_s * 1000)]
    if url.startswith("gst:") or " ! " in url:
        return cv2.VideoCapture(url.removeprefix("gst:").strip(), cv2.CAP_GSTREAMER), False
    if url.isdigit():
        return cv2.VideoCapture(int(url), cv2.CAP_V4L2), False
    if url.startswith("/dev/video"):
        return cv2.VideoCapture(url, cv2.CAP_V4L2), False
    if "://" in url:
        return cv2.VideoCapture(url, cv2.CAP_FFMPEG, params), False
    return cv2.VideoCapture(url, cv2.CAP_ANY), True


MAX_PIXELS = 8192 * 8192
"""Largest frame accepted (a stream that claims more is corrupt or hostile; its frames count as bad)."""


def _plausible(image: Any) -> bool:
    """A BGR uint8 image of a sane size (what every later stage assumes)."""
    return (isinstance(image, np.ndarray) and image.ndim == 3 and image.shape[2] == 3 and image.dtype == np.uint8
            and 0 < image.shape[0] * image.shape[1] <= MAX_PIXELS)


class CameraSource:
    """One camera; ``run(emit, stop)`` blocks until ``stop`` is set (or a file ends without ``loop``)."""

    def __init__(self, cfg: CameraSourceConfig) -> None:
        self.cfg = cfg
        self.id = cfg.id
        self.component = f"source:{cfg.id}"
        self._lock = threading.Condition()
        self._slot: collections.deque[Frame] = collections.deque()
        self._ended = False
        self._status: str | None = None
        self._counts = {"frames_read": 0, "frames_emitted": 0, "frames_dropped": 0, "bad_frames": 0,
                        "opens": 0, "reconnects": 0, "health_events": 0}
        self.last_error: str | None = None
        self.state = "idle"

    # ---- public API -------------------------------------------------------------------------------------------
    def stats(self) -> dict[str, Any]:
        with self._lock:
            return {**self._counts, "state": self.state, "last_error": self.last_error, "policy": self.cfg.policy,
                    "queued": len(self._slot)}

    def run(self, emit: Emit, stop: threading.Event) -> None:
        """Grab in a thread, emit :class:`Frame` values (and health events) from the calling thread."""
        events: collections.deque[HealthEvent] = collections.deque()
        grabber = threading.Thread(target=self._grab_loop, args=(events, stop), name=f"grab-{self.id}", daemon=True)
        grabber.start()
        try:
            while True:
                with self._lock:
                    while not self._slot and not events and not self._ended and not stop.is_set():
                        self._lock.wait(0.1)
                    frame = self._slot.popleft() if self._slot else None
                    pending = [events.popleft() for _ in range(len(events))]
                    done = (self._ended or stop.is_set()) and not self._slot
                    self._lock.notify_all()
                for ev in pending:
                    self._safe_emit(emit, ev)
                if frame is not None:
                    self._safe_emit(emit, frame)
                    with self._lock:
                        self._counts["frames_emitted"] += 1
                if done and frame is None and not events:
                    break
        finally:
            stop_grab = stop.is_set()
            if not stop_grab:
                with self._lock:
                    self._ended = True
            grabber.join(timeout=5.0)
            for ev in list(events):
                self._safe_emit(emit, ev)
            self.state = "stopped"

    # ---- internals --------------------------------------------------------------------------------------------
    def _safe_emit(self, emit: Emit, product: Product) -> None:
        try:
            emit(product)
        except Exception:  # the consumer's failure must not kill the camera
            log.exception("camera %s: emit failed", self.id)

    def _health(self, events: collections.deque[HealthEvent], status: str, message: str) -> None:
        if status == self._status and status == "ok":
            return
        self._status = status
        ev = HealthEvent(source=self.id, t_event_ns=time.time_ns(), component=self.component,
                         status=status, message=message)  # type: ignore[arg-type]
        with self._lock:
            events.append(ev)
            self._counts["health_events"] += 1
            self._lock.notify_all()
        (log.info if status == "ok" else log.warning)("camera %s: %s: %s", self.id, status, message)

    def _put(self, frame: Frame, stop: threading.Event) -> None:
        with self._lock:
            if self.cfg.policy == "latest":
                if self._slot:
                    self._slot.clear()
                    self._counts["frames_dropped"] += 1
                self._slot.append(frame)
            else:
                while len(self._slot) >= self.cfg.queue_size and not stop.is_set():
                    self._lock.wait(0.05)
                self._slot.append(frame)
            self._lock.notify_all()

    def _grab_loop(self, events: collections.deque[HealthEvent], stop: threading.Event) -> None:
        cfg = self.cfg
        backoff = cfg.backoff_initial_s
        frame_id = 0
        try:
            while not stop.is_set():
                outcome = self._session(events, stop, frame_id)
                frame_id = outcome[1]
                if outcome[0] == "eof" and not cfg.loop:
                    break
                if outcome[0] == "eof":
                    backoff = cfg.backoff_initial_s
                    continue
                if outcome[0] == "stopped":
                    break
                if outcome[0] == "ok":  # a stream that delivered frames and then dropped: restart the backoff
                    backoff = cfg.backoff_initial_s
                if not cfg.reconnect:
                    break
                self.state = "backoff"
                with self._lock:
                    self._counts["reconnects"] += 1
                if stop.wait(backoff):
                    break
                backoff = min(backoff * 2, cfg.backoff_max_s)
        except Exception as exc:  # never let the grabber die silently
            self.last_error = f"{type(exc).__name__}: {exc}"
            self._health(events, "down", f"camera grabber failed: {self.last_error}")
        finally:
            with self._lock:
                self._ended = True
                self._lock.notify_all()

    def _session(self, events: collections.deque[HealthEvent], stop: threading.Event,
                 frame_id: int) -> tuple[str, int]:
        """Open once and read until end/drop/stop: ``('eof'|'dropped'|'ok'|'failed'|'stopped', frame_id)``."""
        cfg = self.cfg
        self.state = "opening"
        is_file = not (cfg.url.startswith("gst:") or " ! " in cfg.url or cfg.url.isdigit()
                       or cfg.url.startswith("/dev/video") or "://" in cfg.url)
        if is_file and not os.path.isfile(cfg.url):
            self.last_error = f"file not found: {cfg.url}"
            self._health(events, "down", f"cannot open {cfg.url!r}: {self.last_error}")
            return "failed", frame_id
        cap, is_file = open_capture(cfg.url, cfg.open_timeout_s)
        with self._lock:
            self._counts["opens"] += 1
        try:
            if not cap.isOpened():
                self.last_error = "OpenCV could not open it (unreachable, busy, or not a decodable video)"
                self._health(events, "down", f"cannot open {cfg.url!r}: {self.last_error}")
                return "failed", frame_id
            total = int(cap.get(cv2.CAP_PROP_FRAME_COUNT)) if is_file else 0
            fps = cfg.fps or (cap.get(cv2.CAP_PROP_FPS) or 0.0)
            period = 1.0 / fps if is_file and cfg.realtime and fps > 0 else 0.0  # live streams pace themselves
            self._health(events, "ok", f"opened {cfg.url!r}")
            self.state = "streaming"
            bad_run, got_any, pos, next_t = 0, False, 0, time.monotonic()
            while not stop.is_set():
                ok, image = cap.read()
                t_ns = time.time_ns()
                if not ok or not _plausible(image):
                    if is_file and (total <= 0 or pos >= total):
                        return ("eof" if got_any else "failed"), frame_id  # the normal end of a file
                    with self._lock:
                        self._counts["bad_frames"] += 1
                    bad_run += 1
                    pos += 1
                    if bad_run < cfg.max_bad_reads:
                        continue
                    if is_file:
                        self.last_error = f"truncated or corrupt: no frame after {pos - bad_run} of {total}"
                        self._health(events, "degraded", f"{cfg.url}: {self.last_error}")
                        return ("eof" if got_any else "failed"), frame_id
                    self.last_error = f"{bad_run} failed reads in a row"
                    self._health(events, "down", f"stream {cfg.url!r} dropped: {self.last_error}")
                    return ("ok" if got_any else "dropped"), frame_id
                bad_run, got_any = 0, True
                pos += 1
                with self._lock:
                    self._counts["frames_read"] += 1
                self._put(Frame(source=self.id, t_event_ns=t_ns, frame_id=frame_id,
                                image=np.ascontiguousarray(image)), stop)
                frame_id += 1
                if period:
                    next_t += period
                    delay = next_t - time.monotonic()
                    if delay > 0:
                        stop.wait(delay)
                    else:
                        next_t = time.monotonic()
            return "stopped", frame_id
        finally:
            cap.release()
