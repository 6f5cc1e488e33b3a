"""Wire compatibility with the official ETSI modules: our bytes decode with them field for field, their bytes
decode with ours, and both encoders produce the same bits."""

from __future__ import annotations

import copy
import math
from typing import Any

import pytest
from cpm_helpers import DEFAULT_SITE, T0_NS, diff, objects, official_decode, official_encode

from rsu_traffic_broadcast import codec
from rsu_traffic_broadcast import quantize as q
from rsu_traffic_broadcast.cpm_builder import SensorEntry, SensorRegistry, Station, build_cpm, perceived_object
from rsu_traffic_broadcast.generator import CpmGenerator

STATION = Station(station_id=4_000_000_001, site=DEFAULT_SITE, rate_min_hz=1.0, rate_max_hz=10.0)


def _sensors() -> SensorRegistry:
    return SensorRegistry([SensorEntry(source="cam-1", sensor_id=1, sensor_type=3, range_m=80.0),
                           SensorEntry(source="radar-1", sensor_id=2, sensor_type=1)])


def _cpm(n: int, **kw: Any) -> dict[str, Any]:
    return build_cpm(objects(n), station=STATION, reference_ns=T0_NS, sensors=_sensors(),
                     sensor_information=True, **kw)


@pytest.mark.parametrize("n", [1, 10, 30])
def test_our_bytes_decode_with_the_official_modules_field_for_field(official: Any, n: int) -> None:
    value = _cpm(n)
    body = codec.encode(value)
    decoded = official_decode(official, body)
    assert diff(decoded, value) == []
    pos = decoded["payload"]["cpmContainers"][-1]["containerData"]
    assert pos["numberOfPerceivedObjects"] == n == len(pos["perceivedObjects"])
    assert decoded["header"] == {"protocolVersion": 2, "messageId": 14, "stationId": 4_000_000_001}
    # and the official encoder produces exactly the same bits
    assert official_encode(official, value) == body


@pytest.mark.parametrize("n", [1, 10, 30])
def test_official_bytes_decode_with_our_codec(official: Any, n: int) -> None:
    value = _cpm(n, segment=(2, 3))
    body = official_encode(official, value)
    assert diff(codec.decode(body), value) == []
    assert codec.decode_json(body) == codec.decode_json(codec.encode(value))


def test_official_bytes_with_fields_we_never_emit_decode_with_our_codec(official: Any) -> None:
    value = _cpm(2)
    obj = value["payload"]["cpmContainers"][-1]["containerData"]["perceivedObjects"][0]
    obj.update({
        "velocity": ("polarVelocity", {"velocityMagnitude": {"speedValue": 1234, "speedConfidence": 5},
                                       "velocityDirection": {"value": 900, "confidence": 12},
                                       "zVelocity": {"value": -3, "confidence": 127}}),
        "acceleration": ("cartesianAcceleration", {"xAcceleration": {"value": -12, "confidence": 102},
                                                   "yAcceleration": {"value": 161, "confidence": 3}}),
        "angles": {"zAngle": {"value": 10, "confidence": 1}, "yAngle": {"value": 3601, "confidence": 127}},
        "zAngularVelocity": {"value": -255, "confidence": "degSec-05"},
        "lowerTriangularCorrelationMatrices": [{"componentsIncludedIntheMatrix": (b"\xc0\x00", 13),
                                                "matrix": [[-100, 0], [101]]}],
        "mapPosition": {"mapReference": ("intersection", {"region": 7, "id": 42}), "laneId": 3,
                        "longitudinalLanePosition": {"longitudinalLanePositionValue": 120,
                                                     "longitudinalLanePositionConfidence": 5}},
        "classification": [{"objectClass": ("groupSubClass", {"clusterId": 9, "clusterCardinalitySize": 4,
                                                              "clusterBoundingBoxShape": ("rectangular", {
                                                                  "semiLength": 30, "semiBreadth": 20})}),
                            "confidence": 70},
                           {"objectClass": ("vruSubClass", ("motorcyclist", 2)), "confidence": 20}],
    })
    sensors = value["payload"]["cpmContainers"][1]["containerData"]
    sensors[1]["perceptionRegionShape"] = ("rectangular", {
        "shapeReferencePoint": {"xCoordinate": 1000, "yCoordinate": -20000, "zCoordinate": 5},
        "semiLength": 4095, "semiBreadth": 0, "orientation": 3599, "height": 30})
    sensors[1]["perceptionRegionConfidence"] = 95
    sensors.append({"sensorId": 7, "sensorType": 2, "shadowingApplies": False, "perceptionRegionShape": (
        "radial", {"range": 2000, "horizontalOpeningAngleStart": 3300, "horizontalOpeningAngleEnd": 300})})
    body = official_encode(official, value)
    assert diff(codec.decode(body), value) == []
    assert codec.encode(value) == body


def test_container_of_a_kind_we_do_not_type_stays_bytes_and_round_trips(official: Any) -> None:
    value = _cpm(1)
    perception_region = official.encode("PerceptionRegionContainer", [{
        "measurementDeltaTime": 0, "perceptionRegionConfidence": 90,
        "perceptionRegionShape": ("circular", {"radius": 500}), "shadowingApplies": False}])
    value["payload"]["cpmContainers"].insert(2, {"containerId": 4, "containerData": perception_region})
    ours = codec.encode(value)
    assert codec.decode(ours)["payload"]["cpmContainers"][2] == {"containerId": 4,
                                                                 "containerData": perception_region}
    official_view = official.decode("CollectivePerceptionMessage", ours)
    assert official_view["payload"]["cpmContainers"][2]["containerData"] == perception_region
    assert official.decode("PerceptionRegionContainer", perception_region)[0]["perceptionRegionConfidence"] == 90
    doc = codec.decode_json(ours)
    assert doc["payload"]["cpmContainers"][2]["containerData"] == perception_region.hex()
    assert codec.encode_json(doc) == ours

def test_clamped_values_decode_as_the_standards_codes(official: Any) -> None:
    far = objects(3)
    far[0] = type(far[0])(**{**{f: getattr(far[0], f) for f in far[0].__dataclass_fields__},
                             "position_enu": (5000.0, -5000.0, 2000.0), "velocity_enu": (250.0, -250.0),
                             "class_name": "unknown", "size": (40.0, 0.0, 0.01), "age_s": 3600.0,
                             "heading_deg": math.nan, "position_std_m": 80.0})
    value = build_cpm(far, station=STATION, reference_ns=T0_NS, sensors=_sensors())
    obj = official_decode(official, codec.encode(value))["payload"]["cpmContainers"][-1][
        "containerData"]["perceivedObjects"][0]
    assert obj["position"]["xCoordinate"] == {"value": 131071, "confidence": 4095}      # positiveOutOfRange
    assert obj["position"]["yCoordinate"]["value"] == -131072                           # negativeOutOfRange
    assert obj["position"]["zCoordinate"]["value"] == 131071
    assert obj["velocity"] == ("cartesianVelocity", {"xVelocity": {"value": 16382, "confidence": 127},
                                                     "yVelocity": {"value": -16383, "confidence": 127}})
    assert obj["classification"][0]["objectClass"] == ("otherSubClass", 0)              # unknown class
    assert obj["objectDimensionX"]["value"] == 255                                      # outOfRange
    assert obj["objectDimensionY"]["value"] == 256                                      # unavailable
    assert obj["objectDimensionZ"]["value"] == 1
    assert obj["objectAge"] == 1500
    assert obj["angles"]["zAngle"] == {"value": 3601, "confidence": 127}                # unavailable


def test_speed_unavailable_and_missing_reference_position_decode_as_unavailable(official: Any) -> None:
    value = build_cpm(objects(1), station=Station(station_id=1, site=type(DEFAULT_SITE)(
        name="x", lat=math.nan, lon=math.inf, alt=math.nan)), reference_ns=T0_NS, sensors=SensorRegistry())
    obj = value["payload"]["cpmContainers"][-1]["containerData"]["perceivedObjects"][0]
    obj["velocity"] = ("cartesianVelocity", {"xVelocity": {"value": q.velocity_cms(None), "confidence": 127},
                                             "yVelocity": {"value": q.velocity_cms(math.nan), "confidence": 127}})
    decoded = official_decode(official, codec.encode(value))
    ref = decoded["payload"]["managementContainer"]["referencePosition"]
    assert (ref["latitude"], ref["longitude"], ref["altitude"]["altitudeValue"]) == (900000001, 1800000001, 800001)
    vel = decoded["payload"]["cpmContainers"][-1]["containerData"]["perceivedObjects"][0]["velocity"][1]
    assert vel["xVelocity"]["value"] == vel["yVelocity"]["value"] == 16383


def test_every_segment_of_a_split_cpm_decodes_with_the_official_modules(official: Any) -> None:
    gen = CpmGenerator(STATION, sensors=_sensors(), max_bytes=600)
    from rsu_sdk import ObjectList

    messages = gen.on_objects(ObjectList(source="fusion", t_event_ns=T0_NS, objects=tuple(objects(40))))
    assert len(messages) > 1
    seen: list[int] = []
    for i, m in enumerate(messages):
        decoded = official_decode(official, m.body)
        assert diff(decoded, codec.decode(m.body)) == []
        mc = decoded["payload"]["managementContainer"]
        assert mc["segmentationInfo"] == {"totalMsgNo": len(messages), "thisMsgNo": i + 1}
        ids = [o["objectId"] for o in decoded["payload"]["cpmContainers"][-1]["containerData"]["perceivedObjects"]]
        seen += ids
        kinds = [c["containerId"] for c in decoded["payload"]["cpmContainers"]]
        assert kinds == ([2, 3, 5] if i == 0 else [2, 5])
    assert sorted(seen) == list(range(1000, 1040))


def test_a_perceived_object_alone_matches_the_official_type(official: Any) -> None:
    for obj in objects(12):
        value = perceived_object(obj, delta_ms=-12.4, sensors=_sensors())
        assert value["measurementDeltaTime"] == -12
        ours = codec.specification("uper").encode("PerceivedObject", value)
        assert official.encode("PerceivedObject", copy.deepcopy(value), check_constraints=True) == ours
        assert diff(official.decode("PerceivedObject", ours), value) == []


def test_polygon_length_uses_the_effective_size_constraint() -> None:
    """``polygon SequenceOfCartesianPosition3d (SIZE(3..16,...))``: X.691 encodes the length against the
    effective root 3..16. (asn1tools compiling the official modules applies the referenced type's 1..16
    instead, so polygons are the one shape left out of the cross-checks; the box never emits them.)"""
    point = {"xCoordinate": 0, "yCoordinate": 0}
    bits = codec.specification("uper").encode("Shape", ("polygonal", {"polygon": [point] * 3}))
    # choice ext 0, index 010, no optionals 00, size ext 0, length 3 - 3 = 0000, then the first point
    assert format(int.from_bytes(bits[:2], "big"), "016b")[:11] == "0" + "010" + "00" + "0" + "0000"
