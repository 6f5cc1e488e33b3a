"""Per-source product counters fed by a tap on the outputs (cheap: a few dict updates per product)."""

from __future__ import annotations

import threading
from collections import Counter

from rsu_sdk import (ActuationCommand, ActuationOutcome, Alarm, Detections, Frame, ObjectList, Prediction, Product,
                     RadarScan, SensorReading)

__all__ = ["ProductCounters"]


class ProductCounters:
    """Frames, detections, radar objects, tracks, readings, predictions, alarms and actuations seen."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.frames: Counter[str] = Counter()
        self.detections: Counter[str] = Counter()
        self.radar_objects: Counter[str] = Counter()
        self.object_lists: Counter[str] = Counter()
        self.tracks: dict[str, int] = {}              # objects in the latest list, per fusion source
        self.tracks_started: Counter[str] = Counter()  # track ids seen for the first time
        self.readings: Counter[str] = Counter()
        self.predictions: Counter[str] = Counter()
        self.alarms: Counter[tuple[str, str]] = Counter()         # (kind, raised|cleared)
        self.actuations: Counter[tuple[str, str, str]] = Counter()  # (actuator, action, ok|failed|requested)
        self._last_ids: dict[str, set[int]] = {}
        self._max_id: dict[str, int] = {}

    def observe(self, product: Product) -> None:
        with self._lock:
            if isinstance(product, Frame):
                self.frames[product.source] += 1
            elif isinstance(product, Detections):
                self.detections[product.source] += len(product)
            elif isinstance(product, RadarScan):
                self.radar_objects[product.source] += len(product.objects)
            elif isinstance(product, ObjectList):
                self._objects(product)
            elif isinstance(product, SensorReading):
                self.readings[product.source] += 1
            elif isinstance(product, Prediction):
                self.predictions[product.model] += 1
            elif isinstance(product, Alarm):
                self.alarms[(product.kind, "raised" if product.active else "cleared")] += 1
            elif isinstance(product, ActuationOutcome):
                cmd = product.command
                self.actuations[(cmd.actuator, cmd.action, "ok" if product.ok else "failed")] += 1
            elif isinstance(product, ActuationCommand):
                self.actuations[(product.actuator, product.action, "requested")] += 1

    def _objects(self, ol: ObjectList) -> None:
        src = ol.source
        self.object_lists[src] += 1
        self.tracks[src] = len(ol.objects)
        ids = {o.track_id for o in ol.objects}
        last = self._last_ids.get(src, set())
        top = self._max_id.get(src, -1)
        new = [i for i in ids if i not in last and i > top]  # ids only grow: a re-seen id is not new
        self.tracks_started[src] += len(new)
        self._last_ids[src] = ids
        if ids:
            self._max_id[src] = max(top, max(ids))

    def snapshot(self) -> dict[str, dict]:
        with self._lock:
            return {
                "frames": dict(self.frames), "detections": dict(self.detections),
                "radar_objects": dict(self.radar_objects), "object_lists": dict(self.object_lists),
                "tracks": dict(self.tracks), "tracks_started": dict(self.tracks_started),
                "readings": dict(self.readings), "predictions": dict(self.predictions),
                "alarms": dict(self.alarms), "actuations": dict(self.actuations),
            }
