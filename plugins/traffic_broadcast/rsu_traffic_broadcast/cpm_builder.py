"""Fused objects and the station's settings -> CPM values in the codec's form (see :mod:`.codec`).

The box is an infrastructure station (originating RSU container). Object positions are the ENU offsets
of :class:`~rsu_sdk.types.FusedObject` from the site origin, which is also the CPM's reference position,
so x points East, y North and z Up, as TS 103 324 defines the frame of an RSU. Every number goes through
:mod:`.quantize`, so a built value always fits its ASN.1 type.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from rsu_sdk import FusedObject, SiteInfo

from rsu_traffic_broadcast import quantize as q
from rsu_traffic_broadcast.codec import (
    CPM_MESSAGE_ID,
    CPM_PROTOCOL_VERSION,
    ORIGINATING_RSU,
    PERCEIVED_OBJECTS,
    SENSOR_INFORMATION,
)

__all__ = ["CLASS_MAP", "SENSOR_TYPES", "SensorEntry", "SensorRegistry", "Station", "build_cpm",
           "object_class", "perceived_object"]

SENSOR_TYPES: dict[str, int] = {
    "undefined": 0, "radar": 1, "lidar": 2, "monovideo": 3, "stereovision": 4, "nightvision": 5,
    "ultrasonic": 6, "pmd": 7, "inductionLoop": 8, "sphericalCamera": 9, "uwb": 10, "acoustic": 11,
    "localAggregation": 12, "itsAggregation": 13, "rfid": 14,
}
"""SensorType names of the CDD -> code."""

_PEDESTRIAN = ("vruSubClass", ("pedestrian", 1))                      # ordinary-pedestrian
_BICYCLIST = ("vruSubClass", ("bicyclistAndLightVruVehicle", 1))      # bicyclist
_ANIMAL = ("vruSubClass", ("animal", 0))                              # sub-profile unavailable
# two-wheelers are VRUs: the CDD's vehicleSubClass constraint (unknown|passengerCar..tram|agricultural)
# excludes moped (3) and motorcycle (4), so they go in the motorcyclist branch
_MOPED = ("vruSubClass", ("motorcyclist", 1))                         # moped
_MOTORCYCLE = ("vruSubClass", ("motorcyclist", 2))                    # motorcycle
_UNKNOWN = ("otherSubClass", 0)                                       # unknown

CLASS_MAP: dict[str, tuple[str, Any]] = {
    "person": _PEDESTRIAN, "pedestrian": _PEDESTRIAN,
    "bicycle": _BICYCLIST, "cyclist": _BICYCLIST, "bicyclist": _BICYCLIST,
    "moped": _MOPED, "motorcycle": _MOTORCYCLE, "motorbike": _MOTORCYCLE, "motorcyclist": _MOTORCYCLE,
    "car": ("vehicleSubClass", 5), "passenger_car": ("vehicleSubClass", 5),
    "bus": ("vehicleSubClass", 6), "van": ("vehicleSubClass", 7), "light_truck": ("vehicleSubClass", 7),
    "truck": ("vehicleSubClass", 8), "heavy_truck": ("vehicleSubClass", 8), "trailer": ("vehicleSubClass", 9),
    "tram": ("vehicleSubClass", 11), "train": ("vehicleSubClass", 11),
    "vehicle": ("vehicleSubClass", 0), "wide": ("vehicleSubClass", 0),
    "animal": _ANIMAL, "dog": _ANIMAL, "horse": _ANIMAL, "cat": _ANIMAL, "cow": _ANIMAL, "sheep": _ANIMAL,
    "bird": _ANIMAL,
}
"""Class names of the detectors and radars (lower case) -> ObjectClass; anything else is other/unknown.

Every ``vehicleSubClass`` value here is one the standard allows there: 0, 5..11 or 14."""


def object_class(class_name: str) -> tuple[str, Any]:
    """The ObjectClass CHOICE value for a class name (``person`` -> VRU pedestrian, unknown -> other)."""
    return CLASS_MAP.get(class_name.strip().lower(), _UNKNOWN)


@dataclass(frozen=True, slots=True, kw_only=True)
class SensorEntry:
    """One sensor of the station as the CPM describes it.

    :param source: the rsu source id (as in :attr:`FusedObject.sources`).
    :param sensor_id: Identifier1B in the CPM.   :param sensor_type: SensorType code.
    :param range_m: detection range; when set, the perception region is a circle of that radius.
    """

    source: str
    sensor_id: int
    sensor_type: int
    range_m: float | None = None


def _guess_type(source: str) -> int:
    name = source.lower()
    if "radar" in name:
        return SENSOR_TYPES["radar"]
    if "lidar" in name:
        return SENSOR_TYPES["lidar"]
    if "cam" in name or "video" in name:
        return SENSOR_TYPES["monovideo"]
    return SENSOR_TYPES["undefined"]


class SensorRegistry:
    """Source id -> sensor id: configured sensors first; unknown sources get the next free id (max 128)."""

    MAX_SENSORS = 128

    def __init__(self, configured: Iterable[SensorEntry] = ()) -> None:
        self._by_source: dict[str, SensorEntry] = {}
        self._used: set[int] = set()
        for entry in configured:
            self._by_source[entry.source] = entry
            self._used.add(entry.sensor_id)

    def id_of(self, source: str) -> int | None:
        """The sensor id of ``source``, registering it on first sight; None once 128 sensors are known."""
        entry = self._by_source.get(source)
        if entry is not None:
            return entry.sensor_id
        if len(self._by_source) >= self.MAX_SENSORS:
            return None
        free = next(i for i in range(1, 256) if i not in self._used)
        self._used.add(free)
        self._by_source[source] = SensorEntry(source=source, sensor_id=free, sensor_type=_guess_type(source))
        return free

    def entries(self) -> list[SensorEntry]:
        """All known sensors, in the order they were configured or first seen."""
        return list(self._by_source.values())


@dataclass(frozen=True, slots=True, kw_only=True)
class Station:
    """What the management and station containers say about this box.

    :param station_id: StationId of the ITS-S.   :param site: reference position (site origin, WGS84).
    :param rate_min_hz: / :param rate_max_hz: the planned CPM rate range (messageRateRange).
    """

    station_id: int
    site: SiteInfo
    rate_min_hz: float = 1.0
    rate_max_hz: float = 10.0


def perceived_object(obj: FusedObject, *, delta_ms: float, sensors: SensorRegistry) -> dict[str, Any]:
    """One PerceivedObject value; ``delta_ms`` is measurement time minus the CPM's reference time."""
    east, north, up = obj.position_enu
    pos_conf = q.coordinate_confidence(obj.position_std_m)
    position: dict[str, Any] = {
        "xCoordinate": {"value": q.coordinate_cm(east), "confidence": pos_conf},
        "yCoordinate": {"value": q.coordinate_cm(north), "confidence": pos_conf},
    }
    z_cm = q.coordinate_cm(up)
    if z_cm:  # ground objects (up == 0) leave z out: 4 bytes less per object
        position["zCoordinate"] = {"value": z_cm, "confidence": q.COORD_UNAVAILABLE_CONF}
    value: dict[str, Any] = {
        "objectId": obj.track_id % 65536,
        "measurementDeltaTime": q.delta_time_ms(delta_ms),
        "position": position,
        "velocity": ("cartesianVelocity", {
            "xVelocity": {"value": q.velocity_cms(obj.velocity_enu[0]), "confidence": q.SPEED_CONF_UNAVAILABLE},
            "yVelocity": {"value": q.velocity_cms(obj.velocity_enu[1]), "confidence": q.SPEED_CONF_UNAVAILABLE},
        }),
        # heading: clockwise from North; zAngle: counter-clockwise from the x axis (East); NaN -> unavailable
        "angles": {"zAngle": {"value": q.angle_ddeg(90.0 - obj.heading_deg), "confidence": q.ANGLE_CONF_UNAVAILABLE}},
    }
    if obj.size is not None and len(obj.size) == 3:
        length, width, height = obj.size
        value["objectDimensionZ"] = {"value": q.dimension_dm(height), "confidence": q.DIM_CONF_UNAVAILABLE}
        value["objectDimensionY"] = {"value": q.dimension_dm(width), "confidence": q.DIM_CONF_UNAVAILABLE}
        value["objectDimensionX"] = {"value": q.dimension_dm(length), "confidence": q.DIM_CONF_UNAVAILABLE}
    value["objectAge"] = q.object_age_ms(obj.age_s)
    value["objectPerceptionQuality"] = q.perception_quality(obj.confidence)
    ids = []
    for source in obj.sources:
        sid = sensors.id_of(source)
        if sid is not None and sid not in ids:
            ids.append(sid)
    if ids:
        value["sensorIdList"] = ids
    value["classification"] = [{"objectClass": object_class(obj.class_name),
                                "confidence": q.confidence_level(obj.confidence)}]
    return value


def _sensor_information(sensors: Sequence[SensorEntry]) -> list[dict[str, Any]]:
    out = []
    for s in sensors:
        info: dict[str, Any] = {"sensorId": s.sensor_id, "sensorType": s.sensor_type, "shadowingApplies": True}
        if s.range_m is not None:
            info["perceptionRegionShape"] = ("circular", {"radius": q.length_dm_12b(s.range_m)})
        out.append(info)
    return out


def management_container(station: Station, reference_ns: int,
                         segment: tuple[int, int] | None = None) -> dict[str, Any]:
    """ManagementContainer: reference time and position, rate range, and ``(this, total)`` segment."""
    site = station.site
    container: dict[str, Any] = {
        "referenceTime": q.its_timestamp_ms(reference_ns),
        "referencePosition": {
            "latitude": q.latitude(site.lat),
            "longitude": q.longitude(site.lon),
            "positionConfidenceEllipse": {"semiMajorConfidence": 4095, "semiMinorConfidence": 4095,
                                          "semiMajorOrientation": 3601},
            "altitude": {"altitudeValue": q.altitude_cm(site.alt), "altitudeConfidence": "unavailable"},
        },
    }
    if segment is not None:
        this, total = segment
        container["segmentationInfo"] = {"totalMsgNo": total, "thisMsgNo": this}
    container["messageRateRange"] = {"messageRateMin": q.message_rate_hz(station.rate_min_hz),
                                     "messageRateMax": q.message_rate_hz(station.rate_max_hz)}
    return container


def build_cpm(
    objects: Sequence[FusedObject] | None,
    *,
    station: Station,
    reference_ns: int,
    measured_ns: int | None = None,
    sensors: SensorRegistry,
    sensor_information: bool = False,
    segment: tuple[int, int] | None = None,
    prebuilt: Mapping[int, dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """A whole CPM value.

    :param objects: the objects to include; None leaves out the perceived object container, an empty
        sequence sends one with zero objects ("nothing perceived").
    :param reference_ns: the CPM's reference time (Unix ns).   :param measured_ns: when the objects were
        measured (defaults to ``reference_ns``).
    :param sensor_information: include the sensor information container (all known sensors).
    :param segment: ``(this, total)`` when the CPM is one of several of the same generation event.
    :param prebuilt: track id -> a PerceivedObject value built already (used when splitting).
    """
    delta_ms = 0.0 if measured_ns is None else (measured_ns - reference_ns) / 1e6
    containers: list[dict[str, Any]] = [{"containerId": ORIGINATING_RSU, "containerData": {}}]
    if objects is not None:
        built = [(prebuilt or {}).get(o.track_id) or perceived_object(o, delta_ms=delta_ms, sensors=sensors)
                 for o in objects[:255]]
    if sensor_information:
        entries = sensors.entries()
        if entries:
            containers.append({"containerId": SENSOR_INFORMATION, "containerData": _sensor_information(entries)})
    if objects is not None:
        containers.append({"containerId": PERCEIVED_OBJECTS,
                           "containerData": {"numberOfPerceivedObjects": len(built), "perceivedObjects": built}})
    return {
        "header": {"protocolVersion": CPM_PROTOCOL_VERSION, "messageId": CPM_MESSAGE_ID,
                   "stationId": station.station_id},
        "payload": {"managementContainer": management_container(station, reference_ns, segment),
                    "cpmContainers": containers},
    }
