"""Hazard state and station settings -> DENM values in the codec's form (see :mod:`.codec`).

Every number is quantised and clamped to its ASN.1 range here, so a built value always encodes. The
station is a roadside unit (StationType 15) that perceived the event (``perceivedEvent`` TRUE).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Literal

from rsu_sdk import SiteInfo

from rsu_hazard_warning.codec import DENM_MESSAGE_ID, DENM_PROTOCOL_VERSION
from rsu_hazard_warning.triggers import HazardState

__all__ = ["CAUSE_CODES", "Station", "build_denm", "its_timestamp_ms"]

CAUSE_CODES: dict[str, tuple[str, int, int]] = {
    "stationaryVehicle": ("stationaryVehicle94", 94, 0),          # sub cause unavailable
    "humanPresenceOnTheRoad": ("humanPresenceOnTheRoad12", 12, 4),  # pedestrian
    "wrongWayDriving": ("wrongWayDriving14", 14, 2),              # wrongDirection
}
"""Trigger cause -> (CauseCodeChoice alternative, cause code, sub cause code)."""

ITS_EPOCH_UNIX_MS = 1_072_915_200_000  # 2004-01-01T00:00:00Z
_LEAPS_UNIX_MS = (1_136_073_600_000, 1_230_768_000_000, 1_341_100_800_000, 1_435_708_800_000, 1_483_228_800_000)
"""Leap seconds inserted since 2004 (2005-12-31, 2008-12-31, 2012-06-30, 2015-06-30, 2016-12-31)."""
EARTH_RADIUS_M = 6_378_137.0
_STATION_TYPE_RSU = 15


def its_timestamp_ms(unix_ns: int) -> int:
    """TimestampIts: TAI milliseconds since 2004-01-01T00:00:00Z, from Unix (UTC) nanoseconds."""
    unix_ms = unix_ns // 1_000_000
    leaps = sum(1 for t in _LEAPS_UNIX_MS if unix_ms >= t)
    return min(max(unix_ms - ITS_EPOCH_UNIX_MS + 1000 * leaps, 0), 4398046511103)


def _clamp(v: float, lo: int, hi: int) -> int:
    return int(min(max(round(v), lo), hi))


@dataclass(frozen=True, slots=True, kw_only=True)
class Station:
    """The box as a DENM originator."""

    station_id: int
    site: SiteInfo
    awareness: int = 1                 # StandardLength3b: lessThan100m
    road_type: int = 0                 # urban, no structural separation
    detection_zone_m: float = 100.0    # length of the trace upstream of a lane event


def _reference_position(state: HazardState, site: SiteInfo) -> dict[str, Any]:
    o = state.obj
    std = o.position_std_m
    axis = 4095 if std is None or not math.isfinite(std) else _clamp(std * 100.0 * 2.4477, 1, 4094)  # 95 %
    return {
        "latitude": _clamp(o.lat * 1e7, -900000000, 900000000),
        "longitude": _clamp(o.lon * 1e7, -1800000000 + 1, 1800000000),
        "positionConfidenceEllipse": {"semiMajorConfidence": axis, "semiMinorConfidence": axis,
                                      "semiMajorOrientation": 0},
        "altitude": {"altitudeValue": _clamp((site.alt + o.position_enu[2]) * 100.0, -100000, 800000),
                     "altitudeConfidence": "unavailable"},
    }


def _delta(de: float, dn: float, lat_deg: float) -> dict[str, int]:
    dlat = math.degrees(dn / EARTH_RADIUS_M)
    dlon = math.degrees(de / (EARTH_RADIUS_M * max(math.cos(math.radians(lat_deg)), 1e-6)))
    return {"deltaLatitude": _clamp(dlat * 1e7, -131071, 131071),
            "deltaLongitude": _clamp(dlon * 1e7, -131071, 131071), "deltaAltitude": 0}


def _trace(state: HazardState, station: Station) -> list[list[dict[str, Any]]]:
    """detectionZonesToEventPosition: for a lane event, points every 25 m upstream along the lane (each a
    delta from the previous one, the first from the event position); otherwise one empty path."""
    if state.lane_heading_deg is None:
        return [[]]
    h = math.radians(state.lane_heading_deg)
    step = 25.0
    n = max(1, min(40, int(station.detection_zone_m // step)))
    point = {"pathPosition": _delta(-step * math.sin(h), -step * math.cos(h), state.obj.lat)}
    return [[point] * n]


def _stationary_since(state: HazardState, t_ns: int) -> str:
    since = state.stationary_since_ns if state.stationary_since_ns is not None else state.started_ns
    minutes = (t_ns - since) / 60e9
    return ("lessThan1Minute" if minutes < 1 else "lessThan2Minutes" if minutes < 2
            else "lessThan15Minutes" if minutes < 15 else "equalOrGreater15Minutes")


def build_denm(state: HazardState, *, station: Station, kind: Literal["new", "update", "cancel"], action_seq: int,
               detection_ns: int, reference_ns: int, validity_s: int, interval_ms: int) -> dict[str, Any]:
    """The DENM value of one transmission of a hazard event (``cancel``: management container only)."""
    o = state.obj
    management: dict[str, Any] = {
        "actionId": {"originatingStationId": station.station_id, "sequenceNumber": action_seq % 65536},
        "detectionTime": its_timestamp_ms(detection_ns),
        "referenceTime": its_timestamp_ms(reference_ns),
        "eventPosition": _reference_position(state, station.site),
        "awarenessDistance": _AWARENESS[station.awareness],
        "trafficDirection": ("sameAsReferenceDirection-upstreamOfReferencePosition" if state.lane_heading_deg is not None
                             and state.cause == "stationaryVehicle" else "allTrafficDirections"),
        "validityDuration": _clamp(validity_s, 0, 86400),
        "transmissionInterval": _clamp(interval_ms, 1, 10000),
        "stationType": _STATION_TYPE_RSU,
    }
    header = {"protocolVersion": DENM_PROTOCOL_VERSION, "messageId": DENM_MESSAGE_ID, "stationId": station.station_id}
    if kind == "cancel":
        management["termination"] = "isCancellation"
        return {"header": header, "denm": {"management": management}}
    alternative, _, sub = CAUSE_CODES[state.cause]
    speed = math.hypot(*o.velocity_enu)
    heading = math.degrees(math.atan2(o.velocity_enu[0], o.velocity_enu[1])) % 360.0 if speed > 0.3 else o.heading_deg
    location: dict[str, Any] = {
        "eventSpeed": {"speedValue": _clamp(speed * 100.0, 0, 16382), "speedConfidence": 127},
        "eventPositionHeading": {"value": _clamp(heading * 10.0, 0, 3599) if math.isfinite(heading) else 3601,
                                 "confidence": 127},
        "detectionZonesToEventPosition": _trace(state, station),
        "roadType": ("urban-NoStructuralSeparationToOppositeLanes", "urban-WithStructuralSeparationToOppositeLanes",
                     "nonUrban-NoStructuralSeparationToOppositeLanes",
                     "nonUrban-WithStructuralSeparationToOppositeLanes")[station.road_type],
    }
    payload: dict[str, Any] = {
        "management": management,
        "situation": {"informationQuality": _clamp(o.confidence * 7.0, 1, 7),
                      "eventType": {"ccAndScc": (alternative, sub)}, "perceivedEvent": True},
        "location": location,
    }
    if state.cause == "stationaryVehicle":
        payload["alacarte"] = {"stationaryVehicle": {"stationarySince": _stationary_since(state, reference_ns)}}
    return {"header": header, "denm": payload}


_AWARENESS = ("lessThan50m", "lessThan100m", "lessThan200m", "lessThan500m", "lessThan1000m", "lessThan5km",
              "lessThan10km", "over10km")
