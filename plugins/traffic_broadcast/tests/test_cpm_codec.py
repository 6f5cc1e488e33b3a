"""The codec, the quantizers and the builder on their own (no official modules needed)."""

from __future__ import annotations

import ast
import json
import math
from pathlib import Path

import pytest
from cpm_helpers import DEFAULT_SITE, T0_NS, objects

import rsu_traffic_broadcast
from rsu_traffic_broadcast import codec
from rsu_traffic_broadcast import quantize as q
from rsu_traffic_broadcast.cpm_builder import SensorRegistry, Station, build_cpm, object_class, perceived_object

PACKAGE = Path(rsu_traffic_broadcast.__file__).parent
STATION = Station(station_id=77, site=DEFAULT_SITE)


def test_json_form_round_trips_to_the_same_bytes() -> None:
    body = codec.encode(build_cpm(objects(10), station=STATION, reference_ns=T0_NS, sensors=SensorRegistry(),
                                  sensor_information=True))
    doc = codec.decode_json(body)
    text = json.dumps(doc)  # plain JSON: CHOICEs as {"name": value}
    assert '"cartesianVelocity"' in text and '"vruSubClass": {"pedestrian": 1}' in text
    assert codec.encode_json(json.loads(text)) == body


@pytest.mark.parametrize("body", [b"", b"\x02", b"\xff" * 3, bytes(range(40))])
def test_garbage_is_a_clear_codec_error(body: bytes) -> None:
    with pytest.raises(codec.CpmCodecError, match="CPM|cpmContainers"):
        codec.decode(body)


def test_truncated_cpm_is_a_codec_error() -> None:
    body = codec.encode(build_cpm(objects(5), station=STATION, reference_ns=T0_NS, sensors=SensorRegistry()))
    with pytest.raises(codec.CpmCodecError):
        codec.decode(body[: len(body) // 2])


def test_checked_encoding_names_the_bad_value() -> None:
    value = build_cpm(objects(1), station=STATION, reference_ns=T0_NS, sensors=SensorRegistry())
    value["payload"]["cpmContainers"][-1]["containerData"]["perceivedObjects"][0]["objectAge"] = 99999
    with pytest.raises(codec.CpmCodecError, match="objectAge"):
        codec.encode(value, check_constraints=True)
    with pytest.raises(codec.CpmCodecError, match="containerId 9"):
        codec.encode({**value, "payload": {**value["payload"], "cpmContainers": [
            {"containerId": 9, "containerData": {}}]}})


@pytest.mark.parametrize(("fn", "arg", "code"), [
    (q.coordinate_cm, 12.345, 1234), (q.coordinate_cm, -1310.72, -131072), (q.coordinate_cm, 1e9, 131071),
    (q.coordinate_cm, -math.inf, -131072), (q.coordinate_cm, math.nan, 0),
    (q.coordinate_confidence, None, 4096), (q.coordinate_confidence, 0.0, 1), (q.coordinate_confidence, 0.5, 98),
    (q.coordinate_confidence, 100.0, 4095),
    (q.velocity_cms, 3.217, 322), (q.velocity_cms, None, 16383), (q.velocity_cms, math.nan, 16383),
    (q.velocity_cms, 500.0, 16382), (q.velocity_cms, -500.0, -16383),
    (q.speed_confidence, None, 127), (q.speed_confidence, 10.0, 126), (q.speed_confidence, 0.1, 20),
    (q.angle_ddeg, 90.04, 900), (q.angle_ddeg, -90.0, 2700), (q.angle_ddeg, 359.96, 0), (q.angle_ddeg, None, 3601),
    (q.dimension_dm, 4.54, 45), (q.dimension_dm, 0.01, 1), (q.dimension_dm, 25.4, 254), (q.dimension_dm, 25.5, 255),
    (q.dimension_dm, 0.0, 256), (q.dimension_dm, None, 256),
    (q.object_age_ms, 0.25, 250), (q.object_age_ms, 7.0, 1500), (q.object_age_ms, -1.0, 0),
    (q.delta_time_ms, -5000.0, -2048), (q.delta_time_ms, 5000.0, 2047),
    (q.perception_quality, 1.0, 15), (q.perception_quality, 0.5, 8), (q.perception_quality, None, 0),
    (q.confidence_level, 0.0, 1), (q.confidence_level, 0.876, 88), (q.confidence_level, None, 101),
    (q.latitude, 48.1234567, 481234567), (q.latitude, 91.0, 900000001),
    (q.longitude, -180.0, -1799999999), (q.longitude, math.nan, 1800000001),
    (q.altitude_cm, -2000.0, -100000), (q.altitude_cm, 9000.0, 800000), (q.altitude_cm, None, 800001),
    (q.length_dm_12b, 80.0, 800), (q.length_dm_12b, 1e6, 4095),
])
def test_quantizers_clamp_to_the_standards_codes(fn, arg, code) -> None:  # noqa: ANN001
    assert fn(arg) == code


def test_its_timestamp_counts_tai_milliseconds_since_2004() -> None:
    # CDD example: 2007-01-01T00:00:00Z is 94 694 401 000 (one leap second since the ITS epoch)
    assert q.its_timestamp_ms(1_167_609_600 * 10**9) == 94_694_401_000
    assert q.its_timestamp_ms(1_072_915_200 * 10**9) == 0
    assert q.its_timestamp_ms(0) == 0
    # since 2017 five leap seconds
    assert q.its_timestamp_ms(1_700_000_000 * 10**9) == (1_700_000_000 - 1_072_915_200 + 5) * 1000


@pytest.mark.parametrize(("hz", "rate"), [
    (10, {"mantissa": 100, "exponent": -1}), (5, {"mantissa": 50, "exponent": -1}),
    (1, {"mantissa": 100, "exponent": -2}), (0, {"mantissa": 1, "exponent": -5}),
])
def test_message_rate(hz: float, rate: dict[str, int]) -> None:
    assert q.message_rate_hz(hz) == rate
    assert rate["mantissa"] * 10.0 ** rate["exponent"] == pytest.approx(hz) or hz == 0


@pytest.mark.parametrize(("name", "cls"), [
    ("person", ("vruSubClass", ("pedestrian", 1))), ("Pedestrian", ("vruSubClass", ("pedestrian", 1))),
    ("bicycle", ("vruSubClass", ("bicyclistAndLightVruVehicle", 1))), ("car", ("vehicleSubClass", 5)),
    ("bus", ("vehicleSubClass", 6)), ("truck", ("vehicleSubClass", 8)),
    ("motorcycle", ("vruSubClass", ("motorcyclist", 2))), ("moped", ("vruSubClass", ("motorcyclist", 1))),
    ("dog", ("vruSubClass", ("animal", 0))), ("unknown", ("otherSubClass", 0)), ("zeppelin", ("otherSubClass", 0)),
])
def test_class_mapping(name: str, cls: tuple) -> None:
    assert object_class(name) == cls


def test_perceived_object_fields() -> None:
    obj = objects(11)[10]  # cam-1 + radar-1, raised 1.25 m, size known
    sensors = SensorRegistry()
    value = perceived_object(obj, delta_ms=0.0, sensors=sensors)
    east, north, up = obj.position_enu
    assert value["objectId"] == 1010
    assert value["position"]["xCoordinate"]["value"] == round(east * 100)
    assert value["position"]["yCoordinate"]["value"] == round(north * 100)
    assert value["position"]["zCoordinate"]["value"] == 125
    kind, vel = value["velocity"]
    assert kind == "cartesianVelocity"
    assert (vel["xVelocity"]["value"], vel["yVelocity"]["value"]) == tuple(round(v * 100) for v in obj.velocity_enu)
    # heading clockwise from North -> zAngle counter-clockwise from East
    assert value["angles"]["zAngle"]["value"] == round((90.0 - obj.heading_deg) * 10) % 3600
    assert value["objectDimensionX"]["value"] == round(obj.size[0] * 10)
    assert value["objectDimensionY"]["value"] == round(obj.size[1] * 10)
    assert value["sensorIdList"] == [1, 2]
    assert [(e.source, e.sensor_type) for e in sensors.entries()] == [("cam-1", 3), ("radar-1", 1)]
    assert "zCoordinate" not in perceived_object(objects(1)[0], delta_ms=0.0, sensors=sensors)["position"]


def test_empty_object_list_sends_a_container_with_zero_objects() -> None:
    value = build_cpm([], station=STATION, reference_ns=T0_NS, sensors=SensorRegistry())
    decoded = codec.decode(codec.encode(value))
    assert decoded["payload"]["cpmContainers"][-1] == {
        "containerId": 5, "containerData": {"numberOfPerceivedObjects": 0, "perceivedObjects": []}}
    none = codec.decode(codec.encode(build_cpm(None, station=STATION, reference_ns=T0_NS, sensors=SensorRegistry())))
    assert [c["containerId"] for c in none["payload"]["cpmContainers"]] == [2]


def test_package_ships_only_its_own_asn1_module() -> None:
    shipped = sorted(p.name for p in (PACKAGE / "asn1").iterdir())
    assert shipped == ["rsu-cpm.asn"]
    text = (PACKAGE / "asn1" / "rsu-cpm.asn").read_text()
    assert "RSU-CPM DEFINITIONS AUTOMATIC TAGS" in text and "ETSI-ITS-CDD" not in text


def test_plugin_imports_rsu_sdk_only() -> None:
    for path in PACKAGE.rglob("*.py"):
        tree = ast.parse(path.read_text(), filename=str(path))
        for node in ast.walk(tree):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else (
                [node.module or ""] if isinstance(node, ast.ImportFrom) and node.level == 0 else [])
            bad = [n for n in names if n == "rsu" or n.startswith("rsu.")]
            assert not bad, f"{path.name} imports the host ({bad}); plugins import rsu_sdk only"
