"""Hazard triggers over fused tracks: a stationary vehicle on a lane, a pedestrian on the carriageway outside
a crossing, a vehicle against the lane's direction. Free of I/O and of wall-clock time: the event time of
each :class:`~rsu_sdk.types.ObjectList` drives everything.

Each trigger has a raise condition and a (looser) release condition per track. A hazard is raised when the
raise condition has held for ``confirm_s`` and ended when the release condition has held for ``release_s``
(or the track has been absent for ``lost_s``): confirmation time plus hysteresis, so that noise around a
threshold neither raises nor ends an event.

A stationary vehicle that stands behind another stationary vehicle of its lane (within ``queue_gap_m``
downstream) is queued, not a hazard of its own: only the head of a queue raises.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from rsu_sdk import FusedObject, ObjectList

from rsu_hazard_warning.zones import SiteZones, angle_diff_deg

__all__ = ["CAUSES", "Debounce", "HazardState", "HazardTracker", "TRIGGERS_SCHEMA", "Transition", "TriggerSettings",
           "settings_from_config"]

Cause = Literal["stationaryVehicle", "humanPresenceOnTheRoad", "wrongWayDriving"]
CAUSES: tuple[Cause, ...] = ("stationaryVehicle", "humanPresenceOnTheRoad", "wrongWayDriving")
VEHICLES = frozenset({"car", "truck", "bus", "van", "motorcycle", "motorbike", "moped", "vehicle", "trailer",
                      "passenger_car", "light_truck", "heavy_truck"})
PEOPLE = frozenset({"person", "pedestrian"})
NS = 1_000_000_000

_DEFAULTS: dict[str, dict[str, float]] = {
    "stationary_vehicle": {"confirm_s": 2.0, "release_s": 0.8, "stop_speed_mps": 0.6, "move_speed_mps": 1.5,
                           "queue_gap_m": 15.0},
    "human_presence": {"confirm_s": 1.0, "release_s": 1.0, "max_speed_mps": 2.8},
    "wrong_way": {"confirm_s": 1.0, "release_s": 0.8, "min_speed_mps": 3.0, "angle_deg": 135.0,
                  "release_angle_deg": 100.0},
}
_CAUSE_KEY = {"stationaryVehicle": "stationary_vehicle", "humanPresenceOnTheRoad": "human_presence",
              "wrongWayDriving": "wrong_way"}

TRIGGERS_SCHEMA: dict[str, Any] = {
    "type": "object", "additionalProperties": False,
    "description": "per trigger: enabled, confirmation and release times, thresholds",
    "properties": {
        key: {"type": "object", "additionalProperties": False, "properties": {
            "enabled": {"type": "boolean", "default": True},
            **{k: {"type": "number", "minimum": 0, "default": v} for k, v in values.items()}}}
        for key, values in _DEFAULTS.items()
    },
}
"""JSON Schema of ``plugins.hazard_warning.triggers``."""


@dataclass(frozen=True, slots=True, kw_only=True)
class TriggerSettings:
    """Thresholds of all triggers; ``enabled`` holds the causes that are on."""

    enabled: frozenset[str]
    values: Mapping[str, Mapping[str, float]]
    lost_s: float = 2.0

    def get(self, cause: str, key: str) -> float:
        """One threshold of the trigger of ``cause``."""
        return float(self.values[_CAUSE_KEY[cause]][key])


def settings_from_config(triggers: Mapping[str, Any] | None, lost_s: float = 2.0) -> TriggerSettings:
    """Settings from ``plugins.hazard_warning.triggers`` (defaults where a key is absent)."""
    triggers = triggers or {}
    values = {key: {**defaults, **{k: float(v) for k, v in (triggers.get(key) or {}).items() if k != "enabled"}}
              for key, defaults in _DEFAULTS.items()}
    enabled = frozenset(c for c in CAUSES if (triggers.get(_CAUSE_KEY[c]) or {}).get("enabled", True))
    return TriggerSettings(enabled=enabled, values=values, lost_s=lost_s)


class Debounce:
    """Confirmation and hysteresis: ``update`` returns ``"raise"``, ``"end"`` or None."""

    __slots__ = ("active", "confirm_ns", "release_ns", "since", "clear_since")

    def __init__(self, confirm_s: float, release_s: float) -> None:
        self.confirm_ns, self.release_ns = int(confirm_s * NS), int(release_s * NS)
        self.active = False
        self.since: int | None = None
        self.clear_since: int | None = None

    def update(self, t_ns: int, raise_cond: bool, release_cond: bool) -> str | None:
        if not self.active:
            if not raise_cond:
                self.since = None
                return None
            self.since = t_ns if self.since is None else self.since
            if t_ns - self.since >= self.confirm_ns:
                self.active, self.clear_since = True, None
                return "raise"
            return None
        if not release_cond:
            self.clear_since = None
            return None
        self.clear_since = t_ns if self.clear_since is None else self.clear_since
        if t_ns - self.clear_since >= self.release_ns:
            self.active, self.since = False, None
            return "end"
        return None


@dataclass(slots=True, kw_only=True)
class HazardState:
    """What is known of one hazard of one track (updated every cycle while it lasts)."""

    cause: Cause
    track_id: int
    obj: FusedObject
    started_ns: int
    condition_since_ns: int
    lane: str | None = None
    lane_heading_deg: float | None = None
    stationary_since_ns: int | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Transition:
    """``kind`` is ``raise``, ``update`` or ``end``; ``state`` the hazard's latest state."""

    kind: Literal["raise", "update", "end"]
    t_ns: int
    state: HazardState


def _speed(o: FusedObject) -> float:
    return math.hypot(o.velocity_enu[0], o.velocity_enu[1])


def _heading(o: FusedObject) -> float:
    ve, vn = o.velocity_enu
    return math.degrees(math.atan2(ve, vn)) % 360.0 if math.hypot(ve, vn) > 0.3 else o.heading_deg


@dataclass(slots=True)
class _Track:
    last_seen_ns: int
    debounce: dict[str, Debounce] = field(default_factory=dict)
    states: dict[str, HazardState] = field(default_factory=dict)
    slow_since_ns: int | None = None


class HazardTracker:
    """Runs every enabled trigger over each cycle of fused objects; returns the transitions."""

    def __init__(self, zones: SiteZones, settings: TriggerSettings) -> None:
        self.zones = zones
        self.settings = settings
        self.tracks: dict[int, _Track] = {}
        self.counts = {"cycles": 0, "raised": 0, "ended": 0}

    def _queued(self, o: FusedObject, lane_id: str, heading_deg: float, stopped: list[tuple[FusedObject, str]]) -> bool:
        """Whether another stopped vehicle of the same lane stands just downstream of ``o``."""
        h = math.radians(heading_deg)
        fe, fn = math.sin(h), math.cos(h)
        gap = self.settings.get("stationaryVehicle", "queue_gap_m")
        for q, q_lane in stopped:
            if q is o or q_lane != lane_id:
                continue
            de, dn = q.position_enu[0] - o.position_enu[0], q.position_enu[1] - o.position_enu[1]
            ahead = de * fe + dn * fn
            if 0.0 < ahead <= gap and abs(de * fn - dn * fe) < 2.0:
                return True
        return False

    def _conditions(self, cause: str, o: FusedObject,
                    stopped: list[tuple[FusedObject, str]] = ()) -> tuple[bool, bool, str | None, float | None]:
        """(raise condition, release condition, lane id, lane heading) of ``cause`` for ``o``."""
        s = self.settings
        east, north = o.position_enu[0], o.position_enu[1]
        cls = o.class_name.strip().lower()
        speed = _speed(o)
        if cause == "humanPresenceOnTheRoad":
            if cls not in PEOPLE:
                return False, True, None, None
            exposed = self.zones.on_carriageway(east, north) and not self.zones.in_crossing(east, north)
            return exposed and speed <= s.get(cause, "max_speed_mps"), not exposed, None, None
        if cls not in VEHICLES and not (cause == "wrongWayDriving" and cls == "bicycle"):
            return False, True, None, None
        lane = self.zones.lane_at(east, north)
        if lane is None:
            return False, True, None, None
        if cause == "stationaryVehicle":
            free = not lane.in_queue(east, north) and not self._queued(o, lane.id, lane.heading_deg or 0.0, stopped)
            return (free and speed <= s.get(cause, "stop_speed_mps"),
                    not free or speed >= s.get(cause, "move_speed_mps"), lane.id, lane.heading_deg)
        diff = angle_diff_deg(_heading(o), lane.heading_deg or 0.0)
        return (speed >= s.get(cause, "min_speed_mps") and diff >= s.get(cause, "angle_deg"),
                speed < 0.5 * s.get(cause, "min_speed_mps") or diff <= s.get(cause, "release_angle_deg"),
                lane.id, lane.heading_deg)

    def on_objects(self, objects: ObjectList) -> list[Transition]:
        """Evaluate one cycle; tracks absent for ``lost_s`` end their hazards."""
        self.counts["cycles"] += 1
        t = objects.t_event_ns
        out: list[Transition] = []
        seen: set[int] = set()
        stop_speed = self.settings.get("stationaryVehicle", "stop_speed_mps")
        stopped = []
        for o in objects.objects:
            if o.state == "confirmed" and o.class_name.strip().lower() in VEHICLES and _speed(o) <= stop_speed:
                lane = self.zones.lane_at(o.position_enu[0], o.position_enu[1])
                if lane is not None:
                    stopped.append((o, lane.id))
        for o in objects.objects:
            if o.state != "confirmed":
                continue
            seen.add(o.track_id)
            track = self.tracks.setdefault(o.track_id, _Track(last_seen_ns=t))
            track.last_seen_ns = t
            slow = _speed(o) <= stop_speed
            track.slow_since_ns = (track.slow_since_ns or t) if slow else None
            for cause in CAUSES:
                if cause not in self.settings.enabled:
                    continue
                deb = track.debounce.get(cause)
                if deb is None:
                    deb = track.debounce[cause] = Debounce(self.settings.get(cause, "confirm_s"),
                                                           self.settings.get(cause, "release_s"))
                on, off, lane, lane_heading = self._conditions(cause, o, stopped)
                step = deb.update(t, on, off)
                state = track.states.get(cause)
                if step == "raise":
                    state = HazardState(cause=cause, track_id=o.track_id, obj=o, started_ns=t,
                                        condition_since_ns=deb.since or t, lane=lane, lane_heading_deg=lane_heading,
                                        stationary_since_ns=track.slow_since_ns)
                    track.states[cause] = state
                    self.counts["raised"] += 1
                    out.append(Transition(kind="raise", t_ns=t, state=state))
                elif state is not None:
                    state.obj = o
                    if lane is not None:
                        state.lane, state.lane_heading_deg = lane, lane_heading
                    state.stationary_since_ns = track.slow_since_ns or state.stationary_since_ns
                    if step == "end":
                        del track.states[cause]
                        self.counts["ended"] += 1
                        out.append(Transition(kind="end", t_ns=t, state=state))
                    else:
                        out.append(Transition(kind="update", t_ns=t, state=state))
        lost_ns = int(self.settings.lost_s * NS)
        for track_id in [k for k, tr in self.tracks.items() if k not in seen and t - tr.last_seen_ns >= lost_ns]:
            for state in self.tracks.pop(track_id).states.values():
                self.counts["ended"] += 1
                out.append(Transition(kind="end", t_ns=t, state=state))
        return out

    def active(self) -> list[HazardState]:
        """The hazards raised and not ended."""
        return [s for tr in self.tracks.values() for s in tr.states.values()]
