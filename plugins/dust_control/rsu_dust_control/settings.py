"""The plugin's settings: the JSON Schema it declares and the frozen values the rest of the plugin reads.

Example (``plugins.dust_control`` in the box's config)::

    stations:
      - {id: aq-1, position: [0, 0]}
    sprayers:
      - id: spr-1
        position: [10, 5]
        modbus: {host: 10.0.0.21, port: 502, unit: 1, coil: 0, readback_register: 0}
    pm2_5_on: 150            # µg/m³: a station above this asks its nearest sprayers to run
    pm2_5_off: 100           # ... and below this releases them (hysteresis)
    min_on_s: 120
    min_off_s: 60
    water_budget: {daily_litres: 20000, flow_lpm: 25}
    quiet_hours: [{start: "22:00", end: "06:00"}]
    timezone: Europe/Berlin
    rain_humidity_pct: 92
    manual_override: {mode: auto, sprayers: {spr-2: "off"}, modbus: {host: 10.0.0.20, coil: 100}}
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import time
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from rsu_sdk import PluginConfigError

__all__ = [
    "CONFIG_SCHEMA", "ActuationPolicy", "ModbusPoint", "Override", "QuietWindow", "Settings", "Sprayer",
    "Station", "parse_settings",
]

_ID = {"type": "string", "pattern": r"^[A-Za-z0-9][A-Za-z0-9_.-]*$"}
_POS = {"type": "array", "items": {"type": "number"}, "minItems": 2, "maxItems": 3,
        "description": "east, north[, up] metres from the site origin"}
_HHMM = {"type": "string", "pattern": r"^([01][0-9]|2[0-3]):[0-5][0-9]$"}
_PORT = {"type": "integer", "minimum": 1, "maximum": 65535}
_SECONDS = {"type": "number", "minimum": 0}
_POSITIVE = {"type": "number", "exclusiveMinimum": 0}

_MODBUS_POINT = {
    "type": "object",
    "properties": {
        "host": {"type": "string", "minLength": 1},
        "port": {**_PORT, "default": 502},
        "unit": {"type": "integer", "minimum": 0, "maximum": 255, "default": 1, "description": "Modbus device id"},
        "coil": {"type": "integer", "minimum": 0, "maximum": 65535},
        "readback_register": {"type": "integer", "minimum": 0, "maximum": 65535,
                              "description": "a register that is non-zero while the sprayer really runs"},
        "readback_kind": {"enum": ["input", "holding"], "default": "input"},
    },
    "required": ["host", "coil"],
    "additionalProperties": False,
}

CONFIG_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object",
    "properties": {
        "stations": {"type": "array", "minItems": 1, "items": {
            "type": "object", "properties": {"id": _ID, "position": _POS},
            "required": ["id", "position"], "additionalProperties": False}},
        "sprayers": {"type": "array", "minItems": 1, "items": {
            "type": "object",
            "properties": {"id": _ID, "position": _POS, "modbus": _MODBUS_POINT, "flow_lpm": _POSITIVE},
            "required": ["id", "position", "modbus"], "additionalProperties": False}},
        "sprayers_per_station": {"type": "integer", "minimum": 1, "default": 2,
                                 "description": "how many of the nearest sprayers a station switches"},
        "max_distance_m": {**_POSITIVE, "description": "ignore sprayers farther than this from a station"},
        "pm2_5_on": {**_POSITIVE, "default": 150.0, "description": "µg/m³ above which a station asks for spray"},
        "pm2_5_off": {**_POSITIVE, "default": 100.0, "description": "µg/m³ below which it stops asking"},
        "min_on_s": {**_SECONDS, "default": 120.0},
        "min_off_s": {**_SECONDS, "default": 60.0},
        "water_budget": {"type": "object", "properties": {
            "daily_litres": {**_POSITIVE, "description": "all sprayers together, per local day"},
            "flow_lpm": {**_POSITIVE, "default": 20.0, "description": "litres per minute of one sprayer"}},
            "required": ["daily_litres"], "additionalProperties": False},
        "quiet_hours": {"type": "array", "items": {
            "type": "object", "properties": {"start": _HHMM, "end": _HHMM},
            "required": ["start", "end"], "additionalProperties": False}},
        "timezone": {"type": "string", "default": "UTC", "description": "IANA zone of quiet hours and the day"},
        "rain_humidity_pct": {"type": "number", "minimum": 0, "maximum": 100, "default": 90.0,
                              "description": "relative humidity at or above which a station counts as rain"},
        "rain_hysteresis_pct": {"type": "number", "minimum": 0, "default": 5.0},
        "manual_override": {"type": "object", "properties": {
            "mode": {"enum": ["auto", "on", "off", "hold"], "default": "auto",
                     "description": "on/off: force every sprayer; hold: issue no command"},
            "sprayers": {"type": "object", "additionalProperties": {"enum": ["auto", "on", "off"]}},
            "modbus": {"type": "object", "properties": {
                "host": {"type": "string", "minLength": 1}, "port": {**_PORT, "default": 502},
                "unit": {"type": "integer", "minimum": 0, "maximum": 255, "default": 1},
                "coil": {"type": "integer", "minimum": 0, "maximum": 65535},
                "poll_s": {**_POSITIVE, "default": 1.0}},
                "required": ["host", "coil"], "additionalProperties": False,
                "description": "a coil that, while set, puts the plugin in hold (hands off the sprayers)"}},
            "additionalProperties": False},
        "actuation": {"type": "object", "properties": {
            "timeout_s": {**_POSITIVE, "default": 1.0, "description": "connect / response timeout"},
            "retry_initial_s": {**_POSITIVE, "default": 0.2},
            "retry_max_s": {**_POSITIVE, "default": 10.0},
            "confirm_timeout_s": {**_SECONDS, "default": 1.0, "description": "how long read-back may lag"},
            "alarm_after_attempts": {"type": "integer", "minimum": 1, "default": 3},
            "alarm_after_s": {**_POSITIVE, "default": 5.0},
            "stop_timeout_s": {**_SECONDS, "default": 5.0, "description": "how long stop waits for pending"}},
            "additionalProperties": False},
    },
    "required": ["stations", "sprayers"],
    "additionalProperties": False,
}
"""JSON Schema (draft 2020-12) of ``plugins.dust_control``."""


@dataclass(frozen=True, slots=True, kw_only=True)
class ModbusPoint:
    """Where one coil lives (and, optionally, the register that confirms it)."""

    host: str
    port: int = 502
    unit: int = 1
    coil: int = 0
    readback_register: int | None = None
    readback_kind: Literal["input", "holding"] = "input"


@dataclass(frozen=True, slots=True, kw_only=True)
class Station:
    id: str
    position: tuple[float, float]


@dataclass(frozen=True, slots=True, kw_only=True)
class Sprayer:
    id: str
    position: tuple[float, float]
    modbus: ModbusPoint
    flow_lpm: float


@dataclass(frozen=True, slots=True, kw_only=True)
class QuietWindow:
    """Local wall-clock window; ``end <= start`` wraps over midnight."""

    start: time
    end: time

    def contains(self, t: time) -> bool:
        if self.start < self.end:
            return self.start <= t < self.end
        return t >= self.start or t < self.end


@dataclass(frozen=True, slots=True, kw_only=True)
class Override:
    mode: Literal["auto", "on", "off", "hold"] = "auto"
    sprayers: Mapping[str, str] = field(default_factory=dict)
    coil: ModbusPoint | None = None
    poll_s: float = 1.0


@dataclass(frozen=True, slots=True, kw_only=True)
class ActuationPolicy:
    timeout_s: float = 1.0
    retry_initial_s: float = 0.2
    retry_max_s: float = 10.0
    confirm_timeout_s: float = 1.0
    alarm_after_attempts: int = 3
    alarm_after_s: float = 5.0
    stop_timeout_s: float = 5.0


@dataclass(frozen=True, slots=True, kw_only=True)
class Settings:
    stations: tuple[Station, ...]
    sprayers: tuple[Sprayer, ...]
    sprayers_per_station: int = 2
    max_distance_m: float | None = None
    pm2_5_on: float = 150.0
    pm2_5_off: float = 100.0
    min_on_s: float = 120.0
    min_off_s: float = 60.0
    daily_litres: float | None = None
    quiet_hours: tuple[QuietWindow, ...] = ()
    timezone: ZoneInfo = field(default_factory=lambda: ZoneInfo("UTC"))
    rain_humidity_pct: float = 90.0
    rain_hysteresis_pct: float = 5.0
    override: Override = field(default_factory=Override)
    actuation: ActuationPolicy = field(default_factory=ActuationPolicy)

    def sprayer(self, sprayer_id: str) -> Sprayer:
        return next(s for s in self.sprayers if s.id == sprayer_id)


def _hhmm(text: str) -> time:
    hours, minutes = text.split(":")
    return time(int(hours), int(minutes))


def _point(raw: Mapping[str, Any]) -> ModbusPoint:
    return ModbusPoint(host=str(raw["host"]), port=int(raw.get("port", 502)), unit=int(raw.get("unit", 1)),
                       coil=int(raw["coil"]), readback_register=raw.get("readback_register"),
                       readback_kind=raw.get("readback_kind", "input"))


def _xy(raw: Any) -> tuple[float, float]:
    return float(raw[0]), float(raw[1])


def parse_settings(raw: Mapping[str, Any], *, name: str = "dust_control") -> Settings:
    """Turn an already schema-valid settings section into :class:`Settings`.

    :raises PluginConfigError: for what a schema cannot express (duplicate ids, off >= on, unknown zone).
    """
    problems: list[str] = []
    budget = raw.get("water_budget") or {}
    default_flow = float(budget.get("flow_lpm", 20.0))
    stations = tuple(Station(id=s["id"], position=_xy(s["position"])) for s in raw.get("stations", ()))
    sprayers = tuple(Sprayer(id=s["id"], position=_xy(s["position"]), modbus=_point(s["modbus"]),
                             flow_lpm=float(s.get("flow_lpm", default_flow))) for s in raw.get("sprayers", ()))
    for kind, items in (("stations", stations), ("sprayers", sprayers)):
        seen: set[str] = set()
        for i, item in enumerate(items):
            if item.id in seen:
                problems.append(f"{kind}[{i}].id: duplicate id {item.id!r}")
            seen.add(item.id)
    on, off = float(raw.get("pm2_5_on", 150.0)), float(raw.get("pm2_5_off", 100.0))
    if off >= on:
        problems.append(f"pm2_5_off: must be below pm2_5_on ({on}), got {off}")
    try:
        zone = ZoneInfo(str(raw.get("timezone", "UTC")))
    except (ZoneInfoNotFoundError, ValueError):
        problems.append(f"timezone: unknown IANA time zone {raw.get('timezone')!r}")
        zone = ZoneInfo("UTC")
    ov = raw.get("manual_override") or {}
    known = {s.id for s in sprayers}
    for sid in ov.get("sprayers", {}):
        if sid not in known:
            problems.append(f"manual_override.sprayers.{sid}: no sprayer with that id")
    if problems:
        raise PluginConfigError(name, problems)
    coil_raw = ov.get("modbus")
    override = Override(mode=ov.get("mode", "auto"), sprayers=dict(ov.get("sprayers", {})),
                        coil=_point(coil_raw) if coil_raw else None,
                        poll_s=float(coil_raw.get("poll_s", 1.0)) if coil_raw else 1.0)
    act = raw.get("actuation") or {}
    policy = ActuationPolicy(**{k: act[k] for k in ActuationPolicy.__slots__ if k in act})
    return Settings(
        stations=stations, sprayers=sprayers, sprayers_per_station=int(raw.get("sprayers_per_station", 2)),
        max_distance_m=raw.get("max_distance_m"), pm2_5_on=on, pm2_5_off=off,
        min_on_s=float(raw.get("min_on_s", 120.0)), min_off_s=float(raw.get("min_off_s", 60.0)),
        daily_litres=float(budget["daily_litres"]) if "daily_litres" in budget else None,
        quiet_hours=tuple(QuietWindow(start=_hhmm(q["start"]), end=_hhmm(q["end"]))
                          for q in raw.get("quiet_hours", ())),
        timezone=zone, rain_humidity_pct=float(raw.get("rain_humidity_pct", 90.0)),
        rain_hysteresis_pct=float(raw.get("rain_hysteresis_pct", 5.0)), override=override, actuation=policy,
    )
