"""The JSON message of an air-quality station (ZeroMQ input and replay files; see docs/air-station.md)::

    {"schema": "rsu.air-station/1", "station": "aq-1", "t_ns": 1748851200000000000,
     "pm2_5": 35.2, "pm10": 61.0, "temperature_c": 18.4, "humidity_pct": 54.0,
     "wind_speed_mps": 2.1, "wind_dir_deg": 240.0}

``schema`` is optional (when present it must match); ``station`` defaults to the source's station;
``t_ns`` (integer ns) or ``t`` (float seconds) since the Unix epoch, else the receive time; at least one
channel, each a finite number or null (= not measured). Unknown keys are ignored.

Bounds: at most 64 KiB and 8 levels of nesting; ``station`` 1-64 characters; event times between the epoch
and 2100 and, for a live input (``window``), within ``max_clock_skew_s`` of the box clock. Every way a
message can be wrong is a :class:`MessageError`.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from typing import Any

from rsu_sdk import SensorReading

from rsu.config.air_station import AIR_CHANNELS
from rsu.sources.bounds import (MAX_EVENT_NS, ClockWindow, InputRangeError, bounded_int, describe,
                                load_json_object, seconds_to_ns)

__all__ = ["SCHEMA", "MessageError", "check_channels", "parse_message", "reading_to_message"]

SCHEMA = "rsu.air-station/1"
_STATION = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
MAX_MESSAGE = 65536
_RANGES: dict[str, tuple[float, float]] = {
    "pm2_5": (0.0, 10_000.0), "pm10": (0.0, 20_000.0), "temperature_c": (-80.0, 80.0),
    "humidity_pct": (0.0, 100.0), "wind_speed_mps": (0.0, 100.0), "wind_dir_deg": (0.0, 360.0),
}


class MessageError(ValueError):
    """A message that does not follow the format; the text names the field."""


def _time_ns(doc: Mapping[str, Any], received_ns: int) -> int:
    if "t_ns" in doc:
        return bounded_int(doc["t_ns"], "t_ns: expected integer ns since the epoch;", 0, MAX_EVENT_NS)
    if "t" in doc:
        return seconds_to_ns(doc["t"], "t: expected seconds since the epoch;")
    return received_ns


def parse_message(payload: bytes | str | Mapping[str, Any], *, source: str, default_station: str,
                  received_ns: int, window: ClockWindow | None = None) -> SensorReading:
    """Decode one message into a :class:`SensorReading`; :class:`MessageError` names what is wrong.

    :param window: for a live input, the event time must lie within it (``received_ns`` is the box clock).
    """
    try:
        return _parse(payload, source, default_station, received_ns, window)
    except MessageError:
        raise
    except InputRangeError as exc:
        raise MessageError(str(exc)) from None
    except Exception as exc:  # noqa: BLE001 - whatever a message trips is a bad message
        raise MessageError(f"bad message: {type(exc).__name__}: {exc}") from None


def _parse(payload: bytes | str | Mapping[str, Any], source: str, default_station: str, received_ns: int,
           window: ClockWindow | None) -> SensorReading:
    if isinstance(payload, Mapping):
        doc: Any = payload
    else:
        doc = load_json_object(payload, max_bytes=MAX_MESSAGE)
    if not isinstance(doc, dict):
        raise MessageError(f"expected a JSON object, got {type(doc).__name__}")
    if "schema" in doc and doc["schema"] != SCHEMA:
        raise MessageError(f"schema: expected {SCHEMA!r}, got {describe(doc['schema'])}")
    station = doc.get("station", default_station)
    if not isinstance(station, str) or not _STATION.match(station):
        raise MessageError(f"station: expected an id like 'aq-1' (1-64 characters), got {describe(station)}")
    values = check_channels(doc)
    t_ns = _time_ns(doc, received_ns)
    if window is not None:
        t_ns = window.check(t_ns, "t_ns" if "t_ns" in doc else "t", now_ns=received_ns)
    return SensorReading(source=source, t_event_ns=t_ns, device=station, values=values,
                         units={k: AIR_CHANNELS[k] for k in values})


def check_channels(doc: Mapping[str, Any]) -> dict[str, float]:
    """The channel values of ``doc`` (None = not measured), each range-checked; :class:`MessageError` if none."""
    values: dict[str, float] = {}
    for name, (lo, hi) in _RANGES.items():
        value = doc.get(name)
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, (int, float)) or (
                isinstance(value, int) and abs(value) > 10**9) or not math.isfinite(value):
            raise MessageError(f"{name}: expected a finite number, got {describe(value)}")
        if not lo <= value <= hi:
            raise MessageError(f"{name}: {value} outside the plausible range [{lo:g}, {hi:g}]")
        values[name] = float(value)
    if not values:
        raise MessageError(f"no channel: expected at least one of {', '.join(_RANGES)}")
    return values


def reading_to_message(reading: SensorReading) -> dict[str, Any]:
    """The message for a reading (what the simulator records and a gateway would send)."""
    return {"schema": SCHEMA, "station": reading.device, "t_ns": reading.t_event_ns,
            **{k: round(v, 3) for k, v in reading.values.items()}}
