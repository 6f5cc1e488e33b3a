"""The wire payload of each SDK product: ``(product, source, schema, data)`` for a :class:`~rsu_sdk.Publisher`.

The host publishes every product with this code (sources, stages, and what plugins hand to
``context.emit``), and :func:`rsu_sdk.testing.run_plugin` does the same, so a plugin's tests see what the
box would publish. A plugin therefore never builds these payloads itself.

Mapping (docs/wire-format.md has the table):

=====================  ===========  ==========================
SDK type               product      schema
=====================  ===========  ==========================
Detections             detections   rsu.detections/1
RadarScan              radar        rsu.radar/1
ObjectList             objects      rsu.objects/1
SensorReading          env          rsu.env/1
Prediction             fault        rsu.fault.prediction/1
Alarm                  fault        rsu.fault.alarm/1
ActuationCommand       actuation    rsu.actuation.command/1
ActuationOutcome       actuation    rsu.actuation.outcome/1
HealthEvent            health       rsu.health/1
=====================  ===========  ==========================

``Frame`` is not published (images do not go on the JSON bus). The product's ``source`` becomes the last
topic level, so ``rsu/<site>/detections/cam-1``. JSON has no NaN: optional numbers and sensor values that
are not finite become ``null``; a required number that is not finite raises InvalidDataError naming it.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any, NamedTuple

import numpy as np

from rsu_sdk.context import Publisher
from rsu_sdk.errors import InvalidDataError
from rsu_sdk.events import thaw
from rsu_sdk.types import (
    ActuationCommand,
    ActuationOutcome,
    Alarm,
    Detections,
    Frame,
    FusedObject,
    HealthEvent,
    ObjectList,
    Prediction,
    Product,
    RadarObject,
    RadarScan,
    SensorReading,
)

__all__ = ["Payload", "to_payload", "publish_product", "PRODUCT_OF"]


class Payload(NamedTuple):
    """What to hand :meth:`rsu_sdk.Publisher.publish` for one product."""

    product: str
    source: str
    schema: str
    data: dict[str, Any]


def _opt(value: float | None) -> float | None:
    if value is None:
        return None
    value = float(value)
    return value if math.isfinite(value) else None


def _req(owner: str, name: str, value: float) -> float:
    value = float(value)
    if not math.isfinite(value):
        raise InvalidDataError(f"{owner}.{name}: expected a finite number, got {value}")
    return value


def _detections(d: Detections) -> dict[str, Any]:
    if not np.isfinite(d.xyxy).all() or not np.isfinite(d.confidence).all():
        raise InvalidDataError("Detections.xyxy/confidence: expected finite numbers, got NaN or infinity")
    tracks = d.track_id.tolist() if d.track_id is not None else [None] * len(d)
    items = [
        {
            "box": [float(v) for v in box],
            "confidence": float(conf),
            "class_id": int(cls),
            "class_name": d.class_names[int(cls)],
            "track_id": None if tid is None or tid < 0 else int(tid),
        }
        for box, conf, cls, tid in zip(d.xyxy.tolist(), d.confidence.tolist(), d.class_id.tolist(), tracks)
    ]
    return {"frame_id": int(d.frame_id), "image_size": list(d.image_size), "detections": items}


def _radar_object(o: RadarObject) -> dict[str, Any]:
    return {
        "object_id": int(o.object_id),
        "dist_long": float(o.dist_long),
        "dist_lat": float(o.dist_lat),
        "vrel_long": float(o.vrel_long),
        "vrel_lat": float(o.vrel_lat),
        "rcs": float(o.rcs),
        "dyn_prop": int(o.dyn_prop),
        "class_name": o.class_name,
        "prob_exist": _opt(o.prob_exist),
        "length": _opt(o.length),
        "width": _opt(o.width),
        "orientation_deg": _opt(o.orientation_deg),
    }


def _radar(s: RadarScan) -> dict[str, Any]:
    return {"cycle": int(s.cycle), "objects": [_radar_object(o) for o in s.objects]}


def _fused_object(o: FusedObject) -> dict[str, Any]:
    return {
        "track_id": int(o.track_id),
        "class_name": o.class_name,
        "confidence": float(o.confidence),
        "position_enu": list(o.position_enu),
        "velocity_enu": list(o.velocity_enu),
        "speed_mps": o.speed_mps,
        "heading_deg": _req("FusedObject", "heading_deg", o.heading_deg),
        "lat": _req("FusedObject", "lat", o.lat),
        "lon": _req("FusedObject", "lon", o.lon),
        "size": None if o.size is None else [_req("FusedObject", "size", v) for v in o.size],
        "sources": list(o.sources),
        "age_s": _req("FusedObject", "age_s", o.age_s),
        "state": o.state,
        "position_std_m": _opt(o.position_std_m),
    }


def _objects(ol: ObjectList) -> dict[str, Any]:
    return {"objects": [_fused_object(o) for o in ol.objects]}


def _env(r: SensorReading) -> dict[str, Any]:
    return {"device": r.device, "values": {k: _opt(v) for k, v in r.values.items()}, "units": dict(r.units)}


def _prediction(p: Prediction) -> dict[str, Any]:
    return {"device": p.device, "model": p.model, "score": float(p.score), "label": p.label}


def _alarm(a: Alarm) -> dict[str, Any]:
    return {"device": a.device, "kind": a.kind, "active": bool(a.active), "severity": a.severity,
            "score": _opt(a.score), "message": a.message}


def _command(c: ActuationCommand) -> dict[str, Any]:
    return {"command_id": c.command_id, "actuator": c.actuator, "action": c.action, "reason": c.reason}


def _outcome(o: ActuationOutcome) -> dict[str, Any]:
    command = {**_command(o.command), "source": o.command.source, "t_event": int(o.command.t_event_ns)}
    return {"command": command, "ok": bool(o.ok), "attempts": int(o.attempts), "error": o.error}


def _health(h: HealthEvent) -> dict[str, Any]:
    out: dict[str, Any] = {"component": h.component, "status": h.status, "message": h.message}
    if h.heartbeat:
        out["heartbeat"] = True
    if h.heartbeat or h.details:
        out["details"] = thaw(h.details)
    return out


_CONVERTERS: dict[type, tuple[str, str, Callable[[Any], dict[str, Any]]]] = {
    Detections: ("detections", "rsu.detections/1", _detections),
    RadarScan: ("radar", "rsu.radar/1", _radar),
    ObjectList: ("objects", "rsu.objects/1", _objects),
    SensorReading: ("env", "rsu.env/1", _env),
    Prediction: ("fault", "rsu.fault.prediction/1", _prediction),
    Alarm: ("fault", "rsu.fault.alarm/1", _alarm),
    ActuationCommand: ("actuation", "rsu.actuation.command/1", _command),
    ActuationOutcome: ("actuation", "rsu.actuation.outcome/1", _outcome),
    HealthEvent: ("health", "rsu.health/1", _health),
}

PRODUCT_OF: dict[type, tuple[str, str]] = {t: (p, s) for t, (p, s, _) in _CONVERTERS.items()}
"""SDK type -> (product, schema id)."""


def to_payload(product: Product) -> Payload:
    """Convert one SDK product; :class:`~rsu_sdk.InvalidDataError` for a Frame or an unknown type."""
    if isinstance(product, Frame):
        raise InvalidDataError("Frame: camera images are not published on the JSON bus")
    try:
        name, schema, convert = _CONVERTERS[type(product)]
    except KeyError:
        known = ", ".join(t.__name__ for t in _CONVERTERS)
        raise InvalidDataError(f"cannot publish {type(product).__name__}; expected one of {known}") from None
    return Payload(name, product.source, schema, convert(product))


def publish_product(publisher: Publisher, product: Product) -> None:
    """Publish ``product`` on ``rsu/<site>/<product>/<source>`` with its event time and schema."""
    payload = to_payload(product)
    publisher.publish(payload.product, payload.data, source=payload.source,
                      t_event_ns=int(product.t_event_ns), schema=payload.schema)
