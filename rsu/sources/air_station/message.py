"""The JSON message of an air-quality station (ZeroMQ input and replay files; see docs/air-station.md)::

    {"schema": "rsu.air-station/1", "station": "aq-1", "t_ns": 1748851200000000000,
     "pm2_5": 35.2, "pm10": 61.0, "temperature_c": 18.4, "humidity_pct": 54.0,
     "wind_speed_mps": 2.1, "wind_dir_deg": 240.0}

``schema`` is optional (when present it must match); ``station`` defaults to the source's station;
``t_ns`` (integer ns) or ``t`` (float seconds) since the Unix epoch, else the receive time; at least one
channel, each a finite number or null (= not measured). Unknown keys are ignored.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from typing import Any

from rsu_sdk import SensorReading

from rsu.config.air_station import AIR_CHANNELS

__all__ = ["SCHEMA", "MessageError", "parse_message", "reading_to_message"]

SCHEMA = "rsu.air-station/1"
_STATION = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
_RANGES: dict[str, tuple[float, float]] = {
    "pm2_5": (0.0, 10_000.0), "pm10": (0.0, 20_000.0), "temperature_c": (-80.0, 80.0),
    "humidity_pct": (0.0, 100.0), "wind_speed_mps": (0.0, 100.0), "wind_dir_deg": (0.0, 360.0),
}


class MessageError(ValueError):
    """A message that does not follow the format; the text names the field."""


def _time_ns(doc: Mapping[str, Any], received_ns: int) -> int:
    if "t_ns" in doc:
        t = doc["t_ns"]
        if isinstance(t, bool) or not isinstance(t, int) or t < 0:
            raise MessageError(f"t_ns: expected integer ns since the epoch, got {t!r}")
        return t
    if "t" in doc:
        t = doc["t"]
        if isinstance(t, bool) or not isinstance(t, (int, float)) or not math.isfinite(t) or t < 0:
            raise MessageError(f"t: expected seconds since the epoch, got {t!r}")
        return int(round(t * 1e9))
    return received_ns


def parse_message(payload: bytes | str | Mapping[str, Any], *, source: str, default_station: str,
                  received_ns: int) -> SensorReading:
    """Decode one message into a :class:`SensorReading`; :class:`MessageError` names what is wrong."""
    if isinstance(payload, Mapping):
        doc: Any = payload
    else:
        try:
            doc = json.loads(payload)
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise MessageError(f"not UTF-8 JSON: {exc}") from None
    if not isinstance(doc, dict):
        raise MessageError(f"expected a JSON object, got {type(doc).__name__}")
    if "schema" in doc and doc["schema"] != SCHEMA:
        raise MessageError(f"schema: expected {SCHEMA!r}, got {doc['schema']!r}")
    station = doc.get("station", default_station)
    if not isinstance(station, str) or not _STATION.match(station):
        raise MessageError(f"station: expected an id like 'aq-1', got {station!r}")
    values: dict[str, float] = {}
    for name, (lo, hi) in _RANGES.items():
        value = doc.get(name)
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise MessageError(f"{name}: expected a finite number, got {value!r}")
        if not lo <= value <= hi:
            raise MessageError(f"{name}: {value} outside the plausible range [{lo:g}, {hi:g}]")
        values[name] = float(value)
    if not values:
        raise MessageError(f"no channel: expected at least one of {', '.join(_RANGES)}")
    return SensorReading(source=source, t_event_ns=_time_ns(doc, received_ns), device=station, values=values,
                         units={k: AIR_CHANNELS[k] for k in values})


def reading_to_message(reading: SensorReading) -> dict[str, Any]:
    """The message for a reading (what the simulator records and a gateway would send)."""
    return {"schema": SCHEMA, "station": reading.device, "t_ns": reading.t_event_ns,
            **{k: round(v, 3) for k, v in reading.values.items()}}
