"""The JSON Schemas (draft 2020-12) of every published payload, as Python data.

This module is the single source of the schemas: it ships inside the package (so an installed wheel
validates without the repository), and ``schemas/*.json`` at the top of the repository is its export for
people and other languages (``python -m rsu.publish.schemas --write schemas``; a test keeps them equal).
"""

from __future__ import annotations

from typing import Any

__all__ = ["SCHEMAS", "ENVELOPE_KEYS", "OPTIONAL_ENVELOPE_KEYS", "schema_file_name"]

DRAFT = "https://json-schema.org/draft/2020-12/schema"
ENVELOPE_KEYS = ("schema", "site", "source", "seq", "t_event", "t_publish")
"""Required in every payload. ``boot`` (:data:`OPTIONAL_ENVELOPE_KEYS`) was added to v1 later: rsu always sends
it, a validator accepts payloads from boxes that predate it."""
OPTIONAL_ENVELOPE_KEYS = ("boot",)

_NS = {"type": "integer", "minimum": 0}
_NUM = {"type": "number"}
_OPT_NUM = {"type": ["number", "null"]}
_STR = {"type": "string"}
_OPT_STR = {"type": ["string", "null"]}


def schema_file_name(schema_id: str) -> str:
    """``rsu.objects/1`` -> ``rsu.objects-1.json``."""
    return schema_id.replace("/", "-") + ".json"


def _envelope(schema_id: str) -> dict[str, Any]:
    return {
        "schema": {"const": schema_id, "description": "payload schema id and major version"},
        "site": {"type": "string", "pattern": "^[a-z0-9][a-z0-9_-]*$", "description": "site name (config site.name)"},
        "source": {"type": "string", "minLength": 1, "description": "the sensor, stage or plugin that produced it"},
        "boot": {"type": "string", "pattern": "^[0-9a-f]{16}$",
                 "description": "random id of this run of the box (its process): seq restarts at 0 with a new boot"},
        "seq": {**_NS, "description": "per-topic counter from 0 per boot, +1 per message; a gap means loss"},
        "t_event": {**_NS, "description": "event time, integer ns since the Unix epoch"},
        "t_publish": {**_NS, "description": "publish time, integer ns since the Unix epoch"},
    }


def _obj(props: dict[str, Any], *, required: list[str] | None = None, extra: bool = False) -> dict[str, Any]:
    return {
        "type": "object",
        "properties": props,
        "required": list(props) if required is None else required,
        "additionalProperties": extra,
    }


def _payload(schema_id: str, title: str, product: str, props: dict[str, Any], *, extra: bool = False,
             required: list[str] | None = None) -> dict[str, Any]:
    body = _obj({**_envelope(schema_id), **props}, extra=extra,
                required=list(ENVELOPE_KEYS) + (list(props) if required is None else required))
    return {
        "$schema": DRAFT,
        "$id": f"urn:rsu:schema:{schema_id}",
        "title": title,
        "description": f"Published on topic rsu/<site>/{product}[/<source>].",
        **body,
    }


def _vec(n: int, description: str) -> dict[str, Any]:
    return {"type": "array", "items": _NUM, "minItems": n, "maxItems": n, "description": description}


_DETECTION = _obj({
    "box": _vec(4, "x1, y1, x2, y2 in pixels"),
    "confidence": {"type": "number", "minimum": 0, "maximum": 1},
    "class_id": {"type": "integer", "minimum": 0},
    "class_name": _STR,
    "track_id": {"type": ["integer", "null"], "description": "tracker id, null when untracked"},
})

_RADAR_OBJECT = _obj({
    "object_id": {"type": "integer"},
    "dist_long": {**_NUM, "description": "m, along the radar's boresight"},
    "dist_lat": {**_NUM, "description": "m, to the radar's left"},
    "vrel_long": {**_NUM, "description": "m/s"},
    "vrel_lat": {**_NUM, "description": "m/s"},
    "rcs": {**_NUM, "description": "dBm2"},
    "dyn_prop": {"type": "integer", "description": "ARS408 dynamic property code"},
    "class_name": _STR,
    "prob_exist": {"type": ["number", "null"], "minimum": 0, "maximum": 1},
    "length": _OPT_NUM,
    "width": _OPT_NUM,
    "orientation_deg": _OPT_NUM,
})

_FUSED_OBJECT = _obj({
    "track_id": {"type": "integer"},
    "class_name": _STR,
    "confidence": {"type": "number", "minimum": 0, "maximum": 1},
    "position_enu": _vec(3, "east, north, up: metres from the site origin"),
    "velocity_enu": _vec(2, "v_east, v_north: m/s"),
    "speed_mps": {"type": "number", "minimum": 0},
    "heading_deg": {**_NUM, "description": "degrees clockwise from North"},
    "lat": {"type": "number", "minimum": -90, "maximum": 90, "description": "WGS84 degrees"},
    "lon": {"type": "number", "minimum": -180, "maximum": 180, "description": "WGS84 degrees"},
    "size": {"oneOf": [_vec(3, "length, width, height in metres"), {"type": "null"}]},
    "sources": {"type": "array", "items": _STR},
    "age_s": {"type": "number", "minimum": 0},
    "state": {"enum": ["tentative", "confirmed", "lost"]},
    "position_std_m": _OPT_NUM,
})

_COMMAND = {
    "command_id": _STR,
    "actuator": _STR,
    "action": {"enum": ["on", "off"]},
    "reason": _STR,
}

SCHEMAS: dict[str, dict[str, Any]] = {
    "rsu.detections/1": _payload("rsu.detections/1", "Camera detections of one frame", "detections", {
        "frame_id": {"type": "integer"},
        "image_size": {"type": "array", "items": {"type": "integer", "minimum": 1}, "minItems": 2, "maxItems": 2,
                       "description": "width, height in pixels"},
        "detections": {"type": "array", "items": _DETECTION},
    }),
    "rsu.radar/1": _payload("rsu.radar/1", "One radar cycle (radar frame, not ENU)", "radar", {
        "cycle": {"type": "integer"},
        "objects": {"type": "array", "items": _RADAR_OBJECT},
    }),
    "rsu.objects/1": _payload("rsu.objects/1", "Fused, tracked objects of one cycle", "objects", {
        "objects": {"type": "array", "items": _FUSED_OBJECT},
    }),
    "rsu.env/1": _payload("rsu.env/1", "One plant or air-quality device sample", "env", {
        "device": {"type": "string", "minLength": 1},
        "values": {"type": "object", "additionalProperties": _OPT_NUM,
                   "description": "channel -> value; null when the device gave no finite number"},
        "units": {"type": "object", "additionalProperties": _STR},
    }),
    "rsu.fault.prediction/1": _payload("rsu.fault.prediction/1", "A fault model's output for one device window",
                                       "fault", {
        "device": _STR,
        "model": _STR,
        "score": _NUM,
        "label": _OPT_STR,
    }),
    "rsu.fault.alarm/1": _payload("rsu.fault.alarm/1", "An alarm raised or cleared", "fault", {
        "device": _STR,
        "kind": _STR,
        "active": {"type": "boolean"},
        "severity": {"enum": ["info", "warning", "critical"]},
        "score": _OPT_NUM,
        "message": _STR,
    }),
    "rsu.actuation.command/1": _payload("rsu.actuation.command/1", "A request to switch an actuator",
                                        "actuation", dict(_COMMAND)),
    "rsu.actuation.outcome/1": _payload("rsu.actuation.outcome/1", "What happened to an actuation command",
                                        "actuation", {
        "command": _obj({**_COMMAND, "source": _STR, "t_event": _NS}),
        "ok": {"type": "boolean"},
        "attempts": {"type": "integer", "minimum": 0},
        "error": _OPT_STR,
    }),
    "rsu.health/1": _payload("rsu.health/1", "A component's health: on every change, and as a heartbeat on an "
                             "interval (publish.health_interval_s)", "health", {
        "component": _STR,
        "status": {"enum": ["ok", "degraded", "down"]},
        "message": _STR,
        "heartbeat": {"type": "boolean", "description": "true on the periodic heartbeat, absent on a change"},
        "details": {"type": "object", "description": "the component's counters and state (heartbeat only): "
                    "e.g. rates, drops, stale inputs, the last error", "additionalProperties": True},
    }, required=["component", "status", "message"]),
    "rsu.v2x.cpm/1": _payload("rsu.v2x.cpm/1", "Header of a binary V2X message [topic, header, body]", "v2x/cpm", {
        "encoding": {"type": "string", "pattern": "^[a-z0-9][a-z0-9_.-]*$",
                     "description": "the body's format, e.g. cpm-uper; rsu tap picks its decoder by this name"},
        "bytes": {"type": "integer", "minimum": 0, "description": "length of the body frame"},
    }, extra=True),
    "rsu.v2x.denm/1": _payload("rsu.v2x.denm/1", "Header of a binary DENM [topic, header, body] (hazard_warning)",
                               "v2x/denm", {
        "encoding": {"type": "string", "pattern": "^[a-z0-9][a-z0-9_.-]*$",
                     "description": "the body's format, denm-uper; rsu tap picks its decoder by this name"},
        "bytes": {"type": "integer", "minimum": 0, "description": "length of the body frame"},
        "action_id": _obj({"station_id": _NS, "sequence_number": {"type": "integer", "minimum": 0,
                                                                  "maximum": 65535}}),
        "transmission": {"enum": ["new", "update", "repeat", "cancel"],
                         "description": "what this DENM is in the event's life cycle"},
        "terminated": {"type": "boolean", "description": "true on a cancellation and its repetitions"},
        "cause": {"type": "string", "description": "stationaryVehicle, humanPresenceOnTheRoad or wrongWayDriving"},
    }, extra=True),
    "rsu.batch/1": _payload("rsu.batch/1", "Several messages of one topic sent as one while the uplink is slow "
                            "(opt-in: publish.uplink.batch)", "<product>", {
        "items": {"type": "array", "minItems": 1, "description": "the messages, oldest first; each validates "
                  "against its own schema once given the batch's site, source, seq and t_publish",
                  "items": {"type": "object", "required": ["schema", "t_event"], "additionalProperties": True,
                            "properties": {"schema": {**_STR, "description": "the item's schema id"},
                                           "t_event": {**_NS, "description": "the item's event time, ns"}}}},
    }),
}
"""Schema id -> JSON Schema of the whole payload (envelope and data)."""
