"""Kafka records <-> SDK products for the Kafka-fed Flink job and its result consumer.

The box writes every product as the v1 JSON envelope of docs/wire-format.md (``rsu.publish.kafka_output``);
:func:`from_envelope` turns one back into the SDK value the operators take (JSON floats round-trip exactly,
so both runners see the same numbers). :func:`to_envelope` writes an operator's output as a v1 envelope for
the result topics (``seq`` counts per operator key there, so a reader can check none is missing or repeated).

A record that is not a v1 envelope, or whose ``schema`` no decoder here knows, raises :class:`RecordError`
naming what is wrong; callers count it and skip the record.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import orjson
from rsu_sdk import (
    Alarm, Detections, FusedObject, HealthEvent, ObjectList, Prediction, Product, RadarObject, RadarScan,
    SensorReading,
)
from rsu_sdk.payloads import to_payload

__all__ = ["RecordError", "from_envelope", "parse_envelope", "from_parsed", "to_envelope", "envelope_bytes", "DECODERS", "product_name"]


class RecordError(ValueError):
    """A record that cannot be decoded (the message says what and where)."""


def _nan(v: float | None) -> float:
    return math.nan if v is None else float(v)


def _detections(e: Mapping[str, Any]) -> Detections:
    items = e["detections"]
    names: dict[int, str] = {int(d["class_id"]): str(d["class_name"]) for d in items}
    class_names = tuple(names.get(i, "") for i in range(max(names, default=-1) + 1))
    tracks = [d.get("track_id") for d in items]
    return Detections(
        source=e["source"], t_event_ns=int(e["t_event"]), frame_id=int(e["frame_id"]),
        xyxy=np.array([d["box"] for d in items], dtype=np.float32).reshape(-1, 4),
        confidence=np.array([d["confidence"] for d in items], dtype=np.float32),
        class_id=np.array([d["class_id"] for d in items], dtype=np.int32),
        class_names=class_names, image_size=tuple(e["image_size"]),
        track_id=None if all(t is None for t in tracks) else np.array([-1 if t is None else t for t in tracks],
                                                                       dtype=np.int64))


def _radar(e: Mapping[str, Any]) -> RadarScan:
    return RadarScan(source=e["source"], t_event_ns=int(e["t_event"]), cycle=int(e["cycle"]),
                     objects=tuple(RadarObject(**o) for o in e["objects"]))


def _env(e: Mapping[str, Any]) -> SensorReading:
    return SensorReading(source=e["source"], t_event_ns=int(e["t_event"]), device=e["device"],
                         values={k: _nan(v) for k, v in e["values"].items()}, units=dict(e.get("units") or {}))


def _fused(o: Mapping[str, Any]) -> FusedObject:
    o = {k: v for k, v in o.items() if k != "speed_mps"}  # derived from velocity_enu
    size = o.pop("size", None)
    return FusedObject(**o, size=None if size is None else tuple(size))


def _objects(e: Mapping[str, Any]) -> ObjectList:
    return ObjectList(source=e["source"], t_event_ns=int(e["t_event"]),
                      objects=tuple(_fused(o) for o in e["objects"]))


def _prediction(e: Mapping[str, Any]) -> Prediction:
    return Prediction(source=e["source"], t_event_ns=int(e["t_event"]), device=e["device"], model=e["model"],
                      score=float(e["score"]), label=e.get("label"))


def _alarm(e: Mapping[str, Any]) -> Alarm:
    return Alarm(source=e["source"], t_event_ns=int(e["t_event"]), device=e["device"], kind=e["kind"],
                 active=bool(e["active"]), severity=e["severity"], score=e.get("score"),
                 message=e.get("message") or "")


def _health(e: Mapping[str, Any]) -> HealthEvent:
    return HealthEvent(source=e["source"], t_event_ns=int(e["t_event"]), component=e["component"],
                       status=e["status"], message=e.get("message") or "", details=e.get("details") or {},
                       heartbeat=bool(e.get("heartbeat")))


DECODERS: dict[str, Callable[[Mapping[str, Any]], Product]] = {
    "rsu.detections/1": _detections, "rsu.radar/1": _radar, "rsu.env/1": _env, "rsu.objects/1": _objects,
    "rsu.fault.prediction/1": _prediction, "rsu.fault.alarm/1": _alarm, "rsu.health/1": _health,
}
"""Schema id -> decoder of the envelope into the SDK value."""


def from_envelope(value: bytes | str, where: str = "record") -> tuple[str, Product, int]:
    """``(site, product, t_publish_ns)`` of one v1 envelope; :class:`RecordError` naming ``where`` when it is
    not one."""
    return from_parsed(parse_envelope(value, where), where)


def parse_envelope(value: bytes | str, where: str = "record") -> dict[str, Any]:
    """The JSON object of one envelope; :class:`RecordError` naming ``where`` when it is not one."""
    try:
        env = orjson.loads(value)
    except (ValueError, UnicodeDecodeError) as exc:
        raise RecordError(f"{where}: not JSON ({exc})") from None
    if not isinstance(env, dict):
        raise RecordError(f"{where}: expected a JSON object, got {type(env).__name__}")
    return env


def from_parsed(env: Mapping[str, Any], where: str = "record") -> tuple[str, Product, int]:
    """As :func:`from_envelope`, from an envelope :func:`parse_envelope` already read."""
    schema = env.get("schema")
    decode = DECODERS.get(schema)  # type: ignore[arg-type]
    if decode is None:
        raise RecordError(f"{where}: schema {schema!r} is not one of {sorted(DECODERS)}")
    try:
        return str(env.get("site", "")), decode(env), int(env.get("t_publish") or 0)
    except Exception as exc:  # a missing key, a wrong type, a value the SDK type refuses
        raise RecordError(f"{where}: bad {schema} payload: {type(exc).__name__}: {exc}") from None


def product_name(product: Product) -> str:
    """The wire product of ``product`` (``objects``, ``fault`` ...)."""
    return to_payload(product).product


def envelope_bytes(product: Product, site: str, seq: int, boot: str, t_publish_ns: int | None = None) -> bytes:
    """``product`` as one v1 envelope (UTF-8 JSON); ValueError for a non-finite number (JSON has none)."""
    p = to_payload(product)
    head = {"schema": p.schema, "site": site, "source": p.source, "boot": boot, "seq": int(seq),
            "t_event": int(product.t_event_ns), "t_publish": time.time_ns() if t_publish_ns is None else t_publish_ns}
    data = orjson.dumps({**head, **p.data}, option=orjson.OPT_SERIALIZE_NUMPY)
    if b"null" in data and _has_nan(p.data):
        raise ValueError(f"{p.schema}: a non-finite number cannot go into JSON")
    return data


def _has_nan(value: Any) -> bool:
    if isinstance(value, float):
        return not math.isfinite(value)
    if isinstance(value, dict):
        return any(_has_nan(v) for v in value.values())
    if isinstance(value, (list, tuple)):
        return any(_has_nan(v) for v in value)
    return False


def to_envelope(product: Product, site: str, seq: int, boot: str, t_publish_ns: int | None = None) -> str:
    """``product`` as one v1 envelope (JSON text)."""
    return envelope_bytes(product, site, seq, boot, t_publish_ns).decode()
