"""Which hook receives which product type (shared by the host and the test kit)."""

from __future__ import annotations

from rsu_sdk.errors import InvalidDataError
from rsu_sdk.types import (
    ActuationCommand,
    ActuationOutcome,
    Alarm,
    Detections,
    Frame,
    HealthEvent,
    ObjectList,
    Prediction,
    Product,
    RadarScan,
    SensorReading,
)

__all__ = ["PRODUCT_HOOKS", "hook_for"]

PRODUCT_HOOKS: dict[type, tuple[str, str]] = {
    Frame: ("rsu_on_frame", "frame"),
    Detections: ("rsu_on_detections", "detections"),
    RadarScan: ("rsu_on_radar", "scan"),
    ObjectList: ("rsu_on_objects", "objects"),
    SensorReading: ("rsu_on_reading", "reading"),
    Prediction: ("rsu_on_prediction", "prediction"),
    Alarm: ("rsu_on_alarm", "alarm"),
    ActuationCommand: ("rsu_on_command", "command"),
    ActuationOutcome: ("rsu_on_actuation", "outcome"),
    HealthEvent: ("rsu_on_health", "event"),
}
"""Product type -> (hook name, the hook's argument name): every :data:`~rsu_sdk.types.Product` type has
one hook, and the host routes by this table."""


def hook_for(product: Product) -> tuple[str, str]:
    """Return ``(hook name, argument name)`` of the hook that receives ``product``."""
    try:
        return PRODUCT_HOOKS[type(product)]
    except KeyError:
        raise InvalidDataError(
            f"no hook receives {type(product).__name__}; expected one of "
            + ", ".join(t.__name__ for t in PRODUCT_HOOKS)
        ) from None
