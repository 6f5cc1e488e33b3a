"""Radar and fusion values: :class:`RadarObject`, :class:`RadarScan`, :class:`FusedObject`, :class:`ObjectList`.

Radar values are in the radar's own frame; fused values in the site's ENU frame (metres East/North/Up from
the site origin, :class:`~rsu_sdk.SiteInfo`) and WGS84. Their fields are scalars and tuples, so the
generated ``==`` and ``hash`` compare them as values.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal, get_args

from rsu_sdk._checks import FROZEN, check_finite, check_literal, check_source, check_time
from rsu_sdk.errors import InvalidDataError

__all__ = [
    "OBJECT_CLASSES", "RADAR_CLASSES", "TRACK_STATES", "FusedObject", "ObjectClass", "ObjectList", "RadarClass",
    "RadarObject", "RadarScan", "TrackState",
]

RadarClass = Literal["point", "car", "truck", "pedestrian", "motorcycle", "bicycle", "wide", "unknown"]
RADAR_CLASSES: tuple[str, ...] = get_args(RadarClass)
"""Allowed :attr:`RadarObject.class_name` values (the Continental ARS408 ``Obj_Class`` table)."""

ObjectClass = Literal["car", "truck", "pedestrian", "bicycle", "motorcycle", "unknown"]
OBJECT_CLASSES: tuple[str, ...] = get_args(ObjectClass)
"""Allowed :attr:`FusedObject.class_name` values (the fusion core's classes)."""

TrackState = Literal["tentative", "confirmed", "lost"]
TRACK_STATES: tuple[str, ...] = get_args(TrackState)
"""Allowed :attr:`FusedObject.state` values."""


@dataclass(**FROZEN)
class RadarObject:
    """One object of a radar cycle, in the radar's own frame (x forward along the boresight, y left), SI units.

    :param object_id: the sensor's object id (the sensor reuses it after the object is gone).
    :param dist_long: longitudinal distance (x), m.
    :param dist_lat: lateral distance (y, positive to the left), m.
    :param vrel_long: relative longitudinal speed, m/s (negative = approaching).
    :param vrel_lat: relative lateral speed, m/s.
    :param rcs: radar cross-section, dBm².
    :param dyn_prop: dynamic property code of the ARS408 table (0 moving, 1 stationary, 2 oncoming,
        3 stationary candidate, 4 unknown, 5 crossing stationary, 6 crossing moving, 7 stopped).
    :param class_name: one of :data:`RADAR_CLASSES`: ``point``, ``car``, ``truck``, ``pedestrian``,
        ``motorcycle``, ``bicycle``, ``wide`` or ``unknown``.
    :param prob_exist: probability of existence in ``[0, 1]``; ``None`` when not reported.
    :param length: object length, m; ``None`` when not reported.
    :param width: object width, m; ``None`` when not reported.
    :param orientation_deg: orientation relative to the radar's x axis, degrees; ``None`` when not reported.
    """

    object_id: int
    dist_long: float
    dist_lat: float
    vrel_long: float = 0.0
    vrel_lat: float = 0.0
    rcs: float = 0.0
    dyn_prop: int = 0
    class_name: RadarClass = "unknown"
    prob_exist: float | None = None
    length: float | None = None
    width: float | None = None
    orientation_deg: float | None = None

    def __post_init__(self) -> None:
        check_finite("RadarObject", "position/velocity",
                     (self.dist_long, self.dist_lat, self.vrel_long, self.vrel_lat, self.rcs))
        check_literal("RadarObject", "class_name", self.class_name, RADAR_CLASSES)
        if self.prob_exist is not None and not 0.0 <= self.prob_exist <= 1.0:
            raise InvalidDataError(f"RadarObject.prob_exist: must lie in [0, 1], got {self.prob_exist}")


@dataclass(**FROZEN)
class RadarScan:
    """One complete radar measurement cycle.

    :param source: the radar's source id from the config, e.g. ``radar-1``.
    :param t_event_ns: measurement time of the cycle, integer ns since the Unix epoch.
    :param cycle: the sensor's measurement counter.
    :param objects: the objects of the cycle (a tuple of :class:`RadarObject`).
    """

    source: str
    t_event_ns: int
    cycle: int
    objects: tuple[RadarObject, ...] = ()

    def __post_init__(self) -> None:
        check_source("RadarScan", self.source)
        check_time("RadarScan", self.t_event_ns)
        object.__setattr__(self, "objects", tuple(self.objects))
        for i, obj in enumerate(self.objects):
            if not isinstance(obj, RadarObject):
                raise InvalidDataError(f"RadarScan.objects[{i}]: expected RadarObject, got {type(obj).__name__}")


@dataclass(**FROZEN)
class FusedObject:
    """One tracked object in world coordinates.

    :param track_id: stable id for the life of the track; ids are not reused.
    :param position_enu: ``(east, north, up)`` metres from the site origin.
    :param velocity_enu: ``(v_east, v_north)`` m/s over ground.
    :param heading_deg: direction of travel, degrees clockwise from North in ``[0, 360)``.
    :param class_name: one of :data:`OBJECT_CLASSES`: ``car``, ``truck``, ``pedestrian``, ``bicycle``,
        ``motorcycle`` or ``unknown`` (camera labels such as ``person`` or ``bus`` are mapped to these).
    :param confidence: how sure the tracker is that the object exists, in ``[0, 1]``.
    :param lat: WGS84 latitude of ``position_enu``, degrees.
    :param lon: WGS84 longitude of ``position_enu``, degrees.
    :param sources: source ids of the sensors that contributed to the last update, e.g. ``("cam-1", "radar-1")``.
    :param size: ``(length, width, height)`` metres; ``None`` when unknown.
    :param age_s: seconds (event time) since the track was created.
    :param state: one of :data:`TRACK_STATES`: ``tentative`` (not yet confirmed by enough updates),
        ``confirmed`` or ``lost`` (no update lately; about to be deleted).
    :param position_std_m: standard deviation of the position estimate, m; ``None`` when unknown.
    """

    track_id: int
    position_enu: tuple[float, float, float]
    velocity_enu: tuple[float, float]
    heading_deg: float
    class_name: ObjectClass
    confidence: float
    lat: float
    lon: float
    sources: tuple[str, ...] = ()
    size: tuple[float, float, float] | None = None
    age_s: float = 0.0
    state: TrackState = "confirmed"
    position_std_m: float | None = None

    def __post_init__(self) -> None:
        owner = "FusedObject"
        if len(self.position_enu) != 3:
            raise InvalidDataError(f"{owner}.position_enu: expected 3 values, got {len(self.position_enu)}")
        if len(self.velocity_enu) != 2:
            raise InvalidDataError(f"{owner}.velocity_enu: expected 2 values, got {len(self.velocity_enu)}")
        object.__setattr__(self, "position_enu", tuple(float(v) for v in self.position_enu))
        object.__setattr__(self, "velocity_enu", tuple(float(v) for v in self.velocity_enu))
        object.__setattr__(self, "sources", tuple(self.sources))
        if self.size is not None:
            if len(self.size) != 3:
                raise InvalidDataError(f"{owner}.size: expected (length, width, height), got {self.size!r}")
            object.__setattr__(self, "size", tuple(float(v) for v in self.size))
        check_finite(owner, "position_enu", self.position_enu)
        check_finite(owner, "velocity_enu", self.velocity_enu)
        check_literal(owner, "class_name", self.class_name, OBJECT_CLASSES)
        check_literal(owner, "state", self.state, TRACK_STATES)
        if not 0.0 <= self.confidence <= 1.0:
            raise InvalidDataError(f"{owner}.confidence: must lie in [0, 1], got {self.confidence}")

    @property
    def speed_mps(self) -> float:
        """Ground speed, m/s."""
        return math.hypot(*self.velocity_enu)


@dataclass(**FROZEN)
class ObjectList:
    """All tracked objects of one fusion cycle.

    :param source: the fusion stage's id (``fusion`` unless configured otherwise).
    :param t_event_ns: the fusion cycle's event time, integer ns since the Unix epoch.
    :param objects: the reported tracks (a tuple of :class:`FusedObject`): the built-in fusion reports
        confirmed tracks, and lost ones for a short while after their last update (``state == "lost"``).
    """

    source: str
    t_event_ns: int
    objects: tuple[FusedObject, ...] = ()

    def __post_init__(self) -> None:
        check_source("ObjectList", self.source)
        check_time("ObjectList", self.t_event_ns)
        object.__setattr__(self, "objects", tuple(self.objects))
        for i, obj in enumerate(self.objects):
            if not isinstance(obj, FusedObject):
                raise InvalidDataError(f"ObjectList.objects[{i}]: expected FusedObject, got {type(obj).__name__}")
