"""Annotated, privacy-blurred JPEG views of each camera, encoded on request and at most ``frame_fps`` a second.

Nothing is encoded while nobody asks; concurrent viewers of a camera share one encode. A frame is drawn
with the detections of that very frame (kept by :class:`~rsu.web.live.LiveState`), so the privacy blur
covers what the detector found in it. A frame with no detections yet is never shown sharp while privacy
is on: it is pixelated whole.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Any, Literal

import cv2
import numpy as np

from rsu_sdk import Detections, Frame

from rsu.config.models import PrivacyConfig
from rsu.privacy import Redactor, blur_regions, privacy_regions
from rsu.web import annotate
from rsu.web.live import CameraSnapshot, LiveState
from rsu.web.views import SiteGeometry

__all__ = ["RenderedFrame", "FrameRenderer"]

Kind = Literal["camera", "schematic", "privacy_wait"]


@dataclass(frozen=True, slots=True)
class RenderedFrame:
    """One encoded view: the JPEG and what it shows (``privacy_boxes`` in the JPEG's pixels)."""

    camera: str
    jpeg: bytes
    kind: Kind
    frame_id: int | None
    t_event_ns: int | None
    width: int
    height: int
    privacy_boxes: list[list[int]] = field(default_factory=list)
    rendered_at: float = 0.0


class FrameRenderer:
    """Renders camera views from the live state (see the module doc)."""

    def __init__(self, live: LiveState, geometry: SiteGeometry, *, privacy: PrivacyConfig, fps: float = 5.0,
                 jpeg_quality: int = 80, max_width: int = 960) -> None:
        self.live = live
        self.geometry = geometry
        self.privacy = privacy
        self.redactor = Redactor(privacy)
        self.period_s = 1.0 / fps
        self.quality = jpeg_quality
        self.max_width = max_width
        self._cache: dict[str, RenderedFrame] = {}
        self._backgrounds: dict[tuple[str, float], np.ndarray] = {}
        self._locks: dict[str, threading.Lock] = {}
        self._locks_guard = threading.Lock()
        self.counts = {"encoded": 0, "cached": 0, "encode_ms_total": 0.0}

    def cameras(self) -> list[str]:
        """Cameras that can be shown: those seen by the live state and the calibrated ones."""
        return sorted(set(self.live.cameras()) | set(self.geometry.cameras))

    def frame(self, camera: str) -> RenderedFrame | None:
        """The current view of ``camera`` (re-encoded only when the cached one is older than 1 / fps)."""
        with self._locks_guard:
            lock = self._locks.setdefault(camera, threading.Lock())
        with lock:
            cached = self._cache.get(camera)
            now = time.monotonic()
            if cached is not None and now - cached.rendered_at < self.period_s:
                self.counts["cached"] += 1
                return cached
            snap = self.live.camera(camera)
            if snap is None and camera not in self.geometry.cameras:
                return None
            t0 = time.perf_counter()
            rendered = self._render(camera, snap, now)
            self.counts["encoded"] += 1
            self.counts["encode_ms_total"] += (time.perf_counter() - t0) * 1e3
            self._cache[camera] = rendered
            return rendered

    # -- drawing ---------------------------------------------------------------------------------

    def _render(self, camera: str, snap: CameraSnapshot | None, now: float) -> RenderedFrame:
        model = self.geometry.cameras.get(camera)
        if snap is not None and snap.frames:
            frame, dets = self._pick(snap)
            scale = min(1.0, self.max_width / frame.size[0])
            if dets is None and self.privacy.blur:
                return self._privacy_wait(camera, frame, scale, now)
            image, boxes = self._redacted(frame, dets, scale)
            kind: Kind = "camera"
            frame_id, t_event, size = frame.frame_id, frame.t_event_ns, frame.size
            caption = [f"{camera}  frame {frame.frame_id}",
                       f"privacy: {len(boxes)} region(s) blurred" if self.privacy.blur else "privacy: OFF"]
        else:
            dets = snap.latest_detections if snap is not None else None
            size = model.image_size if model is not None else (dets.image_size if dets else (640, 360))
            scale = min(1.0, self.max_width / size[0])
            if model is not None:
                key = (camera, scale)
                if key not in self._backgrounds:  # the ground grid never changes: draw it once
                    self._backgrounds[key] = annotate.schematic_canvas(model, scale)
                image = self._backgrounds[key].copy()
            else:
                image = np.full((int(size[1] * scale), int(size[0] * scale), 3), (38, 34, 30), np.uint8)
            boxes, kind = [], "schematic"
            frame_id = dets.frame_id if dets is not None else None
            t_event = dets.t_event_ns if dets is not None else None
            caption = [f"{camera}  (no images: detections on the calibrated ground grid)"]
        if dets is not None:
            annotate.draw_detections(image, dets, scale)
        counts = self._overlays(image, model, scale)
        if counts:
            caption.append(counts)
        annotate.draw_caption(image, caption)
        return RenderedFrame(camera=camera, jpeg=self._encode(image), kind=kind, frame_id=frame_id,
                             t_event_ns=t_event, width=image.shape[1], height=image.shape[0], privacy_boxes=boxes,
                             rendered_at=now)

    @staticmethod
    def _pick(snap: CameraSnapshot) -> tuple[Frame, Detections | None]:
        """The newest frame whose own detections are known, else the newest frame (and no detections)."""
        for frame in reversed(snap.frames):
            dets = snap.detections.get(frame.frame_id)
            if dets is not None and dets.image_size == frame.size:
                return frame, dets
        return snap.frames[-1], None

    def _redacted(self, frame: Frame, dets: Detections | None, scale: float) -> tuple[np.ndarray, list[list[int]]]:
        """The frame blurred (when privacy is on) and scaled; the blurred boxes in scaled pixels."""
        image = frame.image
        boxes: list[list[int]] = []
        if dets is not None and self.privacy.blur:
            regions = privacy_regions(dets, self.privacy)
            image = blur_regions(image, regions, self.privacy.method)
            self.redactor.frames += 1
            self.redactor.regions += len(regions)
            boxes = [[int(round(v * scale)) for v in r] for r in regions.tolist()]
        if scale < 1.0:
            image = cv2.resize(image, (int(frame.size[0] * scale), int(frame.size[1] * scale)),
                               interpolation=cv2.INTER_AREA)
        else:
            image = np.array(image, copy=True)  # frames are read-only; we draw on a copy
        return image, boxes

    def _privacy_wait(self, camera: str, frame: Frame, scale: float, now: float) -> RenderedFrame:
        w, h = frame.size
        image = blur_regions(frame.image, [[0, 0, w, h]], "pixelate")
        if scale < 1.0:
            image = cv2.resize(image, (int(w * scale), int(h * scale)), interpolation=cv2.INTER_AREA)
        annotate.draw_caption(image, [f"{camera}  frame {frame.frame_id}",
                                      "privacy: no detections for this frame yet, whole frame pixelated"])
        return RenderedFrame(camera=camera, jpeg=self._encode(image), kind="privacy_wait", frame_id=frame.frame_id,
                             t_event_ns=frame.t_event_ns, width=image.shape[1], height=image.shape[0],
                             privacy_boxes=[[0, 0, image.shape[1], image.shape[0]]], rendered_at=now)

    def _overlays(self, image: np.ndarray, model: Any, scale: float) -> str:
        """Fused tracks and radar objects projected into a calibrated camera's image."""
        if model is None:
            return ""
        tracks = radar = 0
        for ol in self.live.object_lists().values():
            tracks += annotate.draw_tracks(image, ol.objects, model, scale)
        for scan in self.live.radar_scans().values():
            en = self.geometry.radar_enu(scan)
            if en is not None:
                radar += annotate.draw_radar(image, en, [o.object_id for o in scan.objects], model, scale)
        return f"{tracks} track(s) [yellow], {radar} radar object(s) [cyan] projected"

    def _encode(self, image: np.ndarray) -> bytes:
        ok, buf = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, self.quality])
        if not ok:  # pragma: no cover - OpenCV encodes any uint8 BGR image
            raise RuntimeError("JPEG encoding failed")
        return buf.tobytes()

    def stats(self) -> dict[str, Any]:
        return {**self.counts, "privacy_frames": self.redactor.frames, "privacy_regions": self.redactor.regions}
