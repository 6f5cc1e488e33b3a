"""The latest state of the box for the dashboard, filled by a tap on the outputs (the router thread).

:meth:`LiveState.observe` is on the sensor path: it only stores references to immutable products under a
short lock (no copies, no encoding). Readers (HTTP threads) take a consistent snapshot of the references
and do their work outside the lock.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict, deque
from dataclasses import dataclass, field
from typing import Any

from rsu_sdk import (ActuationCommand, ActuationOutcome, Alarm, Detections, Frame, HealthEvent, ObjectList,
                     Prediction, Product, RadarScan, SensorReading)

__all__ = ["CameraSnapshot", "LiveState"]


@dataclass(frozen=True, slots=True)
class CameraSnapshot:
    """What one camera looks like now: recent frames (oldest first) and detections by frame id."""

    camera: str
    frames: tuple[Frame, ...]
    detections: dict[int, Detections]
    latest_detections: Detections | None


@dataclass(slots=True)
class _Camera:
    frames: deque[Frame]
    detections: OrderedDict[int, Detections] = field(default_factory=OrderedDict)
    latest: Detections | None = None
    frame_count: int = 0
    detection_count: int = 0


class LiveState:
    """Thread-safe latest values: frames and detections per camera, radar scans, fused objects, alarms,
    actuations, predictions and readings.

    :param frame_history: frames kept per camera, so that a frame can be drawn with its own detections
        (which arrive after the frame, once the detector has run).
    :param recent_events: alarms, actuations and health events kept.
    """

    def __init__(self, *, frame_history: int = 8, recent_events: int = 50) -> None:
        self._lock = threading.Lock()
        self._history = frame_history
        self._cameras: dict[str, _Camera] = {}
        self._radar: dict[str, RadarScan] = {}
        self._objects: dict[str, ObjectList] = {}
        self._readings: dict[str, SensorReading] = {}
        self._predictions: dict[tuple[str, str], Prediction] = {}
        self._alarms: deque[Alarm] = deque(maxlen=recent_events)
        self._active: dict[tuple[str, str, str], Alarm] = {}
        self._actuations: deque[ActuationOutcome | ActuationCommand] = deque(maxlen=recent_events)
        self._health: deque[HealthEvent] = deque(maxlen=recent_events)
        self.observed = 0
        self.updated_ns = 0

    def _camera(self, source: str) -> _Camera:
        cam = self._cameras.get(source)
        if cam is None:
            cam = self._cameras[source] = _Camera(frames=deque(maxlen=self._history))
        return cam

    def observe(self, product: Product) -> None:
        """Remember ``product`` if the dashboard shows its kind (called for every product; cheap)."""
        with self._lock:
            self.observed += 1
            self.updated_ns = time.time_ns()
            if isinstance(product, Frame):
                cam = self._camera(product.source)
                cam.frames.append(product)
                cam.frame_count += 1
            elif isinstance(product, Detections):
                cam = self._camera(product.source)
                cam.latest = product
                cam.detection_count += 1
                cam.detections[product.frame_id] = product
                while len(cam.detections) > 4 * self._history:
                    cam.detections.popitem(last=False)
            elif isinstance(product, ObjectList):
                self._objects[product.source] = product
            elif isinstance(product, RadarScan):
                self._radar[product.source] = product
            elif isinstance(product, SensorReading):
                self._readings[product.device] = product
            elif isinstance(product, Prediction):
                self._predictions[(product.device, product.model)] = product
            elif isinstance(product, Alarm):
                self._alarms.append(product)
                key = (product.source, product.device, product.kind)
                if product.active:
                    self._active[key] = product
                else:
                    self._active.pop(key, None)
            elif isinstance(product, (ActuationOutcome, ActuationCommand)):
                self._actuations.append(product)
            elif isinstance(product, HealthEvent):
                self._health.append(product)

    # -- readers ---------------------------------------------------------------------------------

    def cameras(self) -> list[str]:
        with self._lock:
            return sorted(self._cameras)

    def camera(self, camera: str) -> CameraSnapshot | None:
        with self._lock:
            cam = self._cameras.get(camera)
            if cam is None:
                return None
            return CameraSnapshot(camera=camera, frames=tuple(cam.frames), detections=dict(cam.detections),
                                  latest_detections=cam.latest)

    def camera_counts(self) -> dict[str, dict[str, Any]]:
        """Per camera: frames and detection lists seen, whether it has images, the latest detection count."""
        with self._lock:
            return {cid: {"frames": c.frame_count, "detection_lists": c.detection_count,
                          "has_images": bool(c.frames),
                          "image_size": list(c.frames[-1].size) if c.frames
                          else (list(c.latest.image_size) if c.latest else None),
                          "detections": len(c.latest) if c.latest is not None else 0,
                          "t_event": (c.frames[-1].t_event_ns if c.frames else
                                      (c.latest.t_event_ns if c.latest else None))}
                    for cid, c in sorted(self._cameras.items())}

    def object_lists(self) -> dict[str, ObjectList]:
        with self._lock:
            return dict(self._objects)

    def radar_scans(self) -> dict[str, RadarScan]:
        with self._lock:
            return dict(self._radar)

    def readings(self) -> dict[str, SensorReading]:
        with self._lock:
            return dict(self._readings)

    def predictions(self) -> list[Prediction]:
        with self._lock:
            return list(self._predictions.values())

    def alarms(self) -> tuple[list[Alarm], list[Alarm]]:
        """(active alarms, recent alarm events newest first)."""
        with self._lock:
            return list(self._active.values()), list(reversed(self._alarms))

    def actuations(self) -> list[ActuationOutcome | ActuationCommand]:
        """Recent actuation commands and outcomes, newest first."""
        with self._lock:
            return list(reversed(self._actuations))

    def health_events(self) -> list[HealthEvent]:
        with self._lock:
            return list(reversed(self._health))
