"""The typed data model passed between the rsu host and its plugins.

Every value is a frozen, slotted, keyword-only dataclass that carries its event time
(``t_event_ns``, integer nanoseconds since the Unix epoch) and its ``source`` (which becomes the last level
of the topic it is published on, ``rsu/<site>/<product>/<source>``). Plugins never mutate a value: build a
new one with :func:`dataclasses.replace`. Values are validated on construction (``InvalidDataError`` names
the field, what was expected and what was given); arrays are read-only; every value compares with ``==``
and hashes as a value.

Positions are metres East/North/Up (ENU) from the site origin; latitude/longitude are WGS84 degrees.
The types live in :mod:`rsu_sdk.vision` (camera), :mod:`rsu_sdk.objects` (radar, fusion) and
:mod:`rsu_sdk.events` (plant, alarms, actuators, health); this module gathers them.
"""

from __future__ import annotations

from rsu_sdk.events import (
    ACTIONS, HEALTH_STATUSES, SEVERITIES, Action, ActuationCommand, ActuationOutcome, Alarm, HealthEvent,
    HealthStatus, Prediction, SensorReading, Severity,
)
from rsu_sdk.objects import (
    OBJECT_CLASSES, RADAR_CLASSES, TRACK_STATES, FusedObject, ObjectClass, ObjectList, RadarClass, RadarObject,
    RadarScan, TrackState,
)
from rsu_sdk.vision import Detections, Frame

__all__ = [
    "Frame",
    "Detections",
    "RadarObject",
    "RadarScan",
    "FusedObject",
    "ObjectList",
    "SensorReading",
    "Prediction",
    "Alarm",
    "ActuationCommand",
    "ActuationOutcome",
    "HealthEvent",
    "Product",
    "PRODUCT_TYPES",
    "ACTIONS", "HEALTH_STATUSES", "OBJECT_CLASSES", "RADAR_CLASSES", "SEVERITIES", "TRACK_STATES",
    "Action", "HealthStatus", "ObjectClass", "RadarClass", "Severity", "TrackState",
]

Product = (
    Frame | Detections | RadarScan | ObjectList | SensorReading | Prediction | Alarm | ActuationCommand
    | ActuationOutcome | HealthEvent
)
"""Any value that flows through the host to plugins."""

PRODUCT_TYPES: tuple[type, ...] = (
    Frame, Detections, RadarScan, ObjectList, SensorReading, Prediction, Alarm, ActuationCommand, ActuationOutcome,
    HealthEvent,
)
"""The members of :data:`Product`, in the order above."""
