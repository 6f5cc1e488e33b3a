"""Factories of valid rsu values for tests: sensible defaults, any field overridable by keyword.

Used by :mod:`rsu_sdk.testing` (which re-exports them) and usable without pytest::

    reading = make_reading(values={"temp": 1900.0}, device="furnace-1")
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np

from rsu_sdk.context import SiteInfo
from rsu_sdk.types import (
    ActuationCommand, ActuationOutcome, Alarm, Detections, Frame, FusedObject, HealthEvent, ObjectList,
    Prediction, RadarObject, RadarScan, SensorReading,
)

__all__ = [
    "DEFAULT_SITE", "T0_NS", "make_actuation_command", "make_actuation_outcome", "make_alarm", "make_detections",
    "make_frame", "make_fused_object", "make_health_event", "make_object_list", "make_prediction",
    "make_radar_object", "make_radar_scan", "make_reading",
]

T0_NS = 1_700_000_000_000_000_000
"""Default event time of every factory (2023-11-14T22:13:20Z), so that tests are deterministic."""

DEFAULT_SITE = SiteInfo(name="test-site", lat=48.0, lon=11.0, alt=500.0)
"""The site the factories place objects around (and :func:`rsu_sdk.testing.run_plugin` uses by default)."""



def make_frame(*, width: int = 64, height: int = 48, **fields: Any) -> Frame:
    """A black ``height x width`` BGR frame from ``cam-1`` (or pass ``image=``)."""
    fields.setdefault("image", np.zeros((height, width, 3), dtype=np.uint8))
    return Frame(**{"source": "cam-1", "t_event_ns": T0_NS, "frame_id": 0, **fields})


def make_detections(labels: Iterable[str] = ("person", "car"), **fields: Any) -> Detections:
    """One box per label (spread across a 640x480 image, confidence 0.9) from ``cam-1``."""
    names = tuple(fields.pop("class_names", ("person", "bicycle", "car", "motorcycle", "bus", "truck")))
    labels = list(labels)
    n = len(labels)
    boxes = [[40.0 + 100 * i, 100.0, 120.0 + 100 * i, 220.0] for i in range(n)]
    defaults = {
        "source": "cam-1", "t_event_ns": T0_NS, "frame_id": 0, "xyxy": np.array(boxes, np.float32).reshape(n, 4),
        "confidence": np.full(n, 0.9, np.float32), "class_id": np.array([names.index(x) for x in labels], np.int32),
        "class_names": names, "image_size": (640, 480),
    }
    return Detections(**{**defaults, **fields})


def make_radar_object(**fields: Any) -> RadarObject:
    """A car 20 m ahead, approaching at 5 m/s."""
    return RadarObject(**{"object_id": 1, "dist_long": 20.0, "dist_lat": 0.5, "vrel_long": -5.0,
                          "rcs": 10.0, "dyn_prop": 2, "class_name": "car", "prob_exist": 0.99, **fields})


def make_radar_scan(objects: Iterable[RadarObject] | None = None, **fields: Any) -> RadarScan:
    """One radar cycle from ``radar-1`` (default: a single :func:`make_radar_object`)."""
    objs = tuple(objects) if objects is not None else (make_radar_object(),)
    return RadarScan(**{"source": "radar-1", "t_event_ns": T0_NS, "cycle": 0, "objects": objs, **fields})


def make_fused_object(track_id: int = 1, **fields: Any) -> FusedObject:
    """A confirmed car 10 m East, 5 m North of :data:`DEFAULT_SITE`'s origin, driving East at 5 m/s.

    ``lat``/``lon`` follow ``position_enu`` unless given.
    """
    east, north, up = fields.setdefault("position_enu", (10.0, 5.0, 0.0))
    ve, vn = fields.setdefault("velocity_enu", (5.0, 0.0))
    fields.setdefault("lat", DEFAULT_SITE.lat + north / 111_320.0)
    fields.setdefault("lon", DEFAULT_SITE.lon + east / (111_320.0 * math.cos(math.radians(DEFAULT_SITE.lat))))
    fields.setdefault("heading_deg", math.degrees(math.atan2(ve, vn)) % 360.0)
    return FusedObject(**{"track_id": track_id, "class_name": "car", "confidence": 0.9,
                          "sources": ("cam-1", "radar-1"), "size": (4.5, 1.8, 1.5), "age_s": 1.0, **fields})


def make_object_list(objects: Iterable[FusedObject] | None = None, **fields: Any) -> ObjectList:
    """One fusion cycle (default: two cars, tracks 1 and 2)."""
    objs = tuple(objects) if objects is not None else (
        make_fused_object(1), make_fused_object(2, position_enu=(-20.0, 3.0, 0.0), velocity_enu=(0.0, -8.0)))
    return ObjectList(**{"source": "fusion", "t_event_ns": T0_NS, "objects": objs, **fields})


def make_reading(values: Mapping[str, float] | None = None, **fields: Any) -> SensorReading:
    """One sample of device ``dev-1`` (default channels ``temp`` and ``pressure``)."""
    vals = dict(values) if values is not None else {"temp": 1200.0, "pressure": 2.5}
    return SensorReading(**{"source": "plant-1", "t_event_ns": T0_NS, "device": "dev-1", "values": vals, **fields})


def make_prediction(score: float = 0.5, **fields: Any) -> Prediction:
    """A ``fault-lstm`` score for ``dev-1``."""
    return Prediction(**{"source": "fault-lstm", "t_event_ns": T0_NS, "device": "dev-1", "model": "fault-lstm",
                         "score": score, **fields})


def make_alarm(active: bool = True, **fields: Any) -> Alarm:
    """A raised (or, with ``active=False``, cleared) warning about ``dev-1``."""
    return Alarm(**{"source": "test", "t_event_ns": T0_NS, "device": "dev-1", "kind": "test_alarm",
                    "active": active, **fields})


def make_actuation_command(action: str = "on", **fields: Any) -> ActuationCommand:
    """Switch ``sprayer-1`` on (or off)."""
    return ActuationCommand(**{"source": "test", "t_event_ns": T0_NS, "actuator": "sprayer-1", "action": action,
                               "command_id": "cmd-1", **fields})


def make_actuation_outcome(ok: bool = True, **fields: Any) -> ActuationOutcome:
    """The outcome of :func:`make_actuation_command` (confirmed at the first attempt unless told)."""
    fields.setdefault("command", make_actuation_command())
    if not ok:
        fields.setdefault("error", "no confirmation")
    return ActuationOutcome(**{"source": "actuators", "t_event_ns": T0_NS, "ok": ok, **fields})


def make_health_event(status: str = "down", **fields: Any) -> HealthEvent:
    """``source:cam-1`` changed to ``status``."""
    return HealthEvent(**{"source": "rsu", "t_event_ns": T0_NS, "component": "source:cam-1", "status": status,
                          **fields})
