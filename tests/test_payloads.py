"""Every SDK product type becomes a payload that validates against schemas/ after a real publish."""

from __future__ import annotations

import json
import typing
from collections.abc import Iterator
from pathlib import Path

import jsonschema
import pytest
from rsu_sdk import (
    ActuationCommand,
    ActuationOutcome,
    Alarm,
    Detections,
    Frame,
    FusedObject,
    HealthEvent,
    InvalidDataError,
    ObjectList,
    Prediction,
    RadarObject,
    RadarScan,
    SensorReading,
)
from rsu_sdk.types import Product

from rsu.app.testing import Subscriber
from rsu.config.publish import ZmqConfig
from rsu.publish import ZmqPublisher, publish_product, to_payload
from rsu.publish.payloads import PRODUCT_OF
from rsu.publish.schema_defs import schema_file_name
from rsu.publish.schemas import repo_schema_dir, schema_ids, stale_files

T = 1_767_225_600_000_000_000
CMD = ActuationCommand(source="dust_control", t_event_ns=T, actuator="sprayer-1", action="on",
                       command_id="c-1", reason="pm10 high")
CAR = FusedObject(track_id=7, position_enu=(12.3, -4.1, 0.0), velocity_enu=(8.2, 0.4), heading_deg=87.2,
                  class_name="car", confidence=0.91, lat=48.0000123, lon=11.0001653, sources=("cam-1", "radar-1"),
                  size=(4.5, 1.8, 1.5), age_s=3.2, position_std_m=0.4)

SAMPLES: dict[str, Product] = {
    "detections": Detections(source="cam-1", t_event_ns=T, frame_id=12, xyxy=[[1, 2, 30, 40], [5, 6, 7, 8]],
                             confidence=[0.9, 0.4], class_id=[0, 1], class_names=("car", "person"),
                             image_size=(640, 480), track_id=[3, -1]),
    "detections-empty": Detections(source="cam-1", t_event_ns=T, frame_id=13, xyxy=[], confidence=[], class_id=[],
                                   class_names=("car",), image_size=(640, 480)),
    "radar": RadarScan(source="radar-1", t_event_ns=T, cycle=99, objects=(
        RadarObject(object_id=1, dist_long=20.5, dist_lat=-1.2, vrel_long=-3.0, rcs=5.0, class_name="car",
                    prob_exist=0.99, length=4.0, width=1.9, orientation_deg=2.0),
        RadarObject(object_id=2, dist_long=40.0, dist_lat=3.0, length=float("nan")),
    )),
    "objects": ObjectList(source="fusion", t_event_ns=T, objects=(CAR, FusedObject(
        track_id=8, position_enu=(0, 0, 0), velocity_enu=(0, 0), heading_deg=0, class_name="pedestrian",
        confidence=0.5, lat=48.0, lon=11.0, state="tentative"))),
    "env": SensorReading(source="air-1", t_event_ns=T, device="station-1",
                         values={"pm10": 42.0, "pm2_5": float("nan")}, units={"pm10": "ug/m3"}),
    "prediction": Prediction(source="furnace_fault", t_event_ns=T, device="furnace-1", model="lstm-fault",
                             score=0.83, label="tuyere_leak"),
    "alarm": Alarm(source="furnace_fault", t_event_ns=T, device="furnace-1", kind="furnace_fault", active=True,
                   severity="critical", score=0.83, message="fault predicted"),
    "command": CMD,
    "outcome": ActuationOutcome(source="dust_control", t_event_ns=T, command=CMD, ok=False, attempts=3,
                                error="timeout"),
    "health": HealthEvent(source="host", t_event_ns=T, component="source:cam-1", status="degraded",
                          message="frame rate 5/10"),
}


@pytest.fixture(scope="module")
def received() -> Iterator[dict[str, tuple[str, dict]]]:
    """Publish every sample through a real publisher; name -> (topic, decoded payload)."""
    pub = ZmqPublisher("test-site", ZmqConfig(endpoint="tcp://127.0.0.1:*"))
    try:
        with Subscriber(pub.endpoint) as sub:
            assert pub.wait_for_subscribers(1, timeout=60)
            for product in SAMPLES.values():
                publish_product(pub, product)
            got = sub.wait_for_count(len(SAMPLES), timeout=60, what="one message per sample")
        assert len(got) == len(SAMPLES) and all(m.body is None for m in got)
        yield {name: (m.topic, m.payload) for name, m in zip(SAMPLES, got)}
    finally:
        pub.close(0)


def _file_schema(repo_root: Path, schema_id: str) -> dict:
    return json.loads((repo_root / "schemas" / schema_file_name(schema_id)).read_text(encoding="utf-8"))


@pytest.mark.parametrize("name", list(SAMPLES))
def test_every_product_validates_against_schemas_dir(received: dict, repo_root: Path, name: str) -> None:
    topic, payload = received[name]
    product, schema_id = PRODUCT_OF[type(SAMPLES[name])]
    assert topic == f"rsu/test-site/{product}/{SAMPLES[name].source}"
    assert payload["schema"] == schema_id and payload["t_event"] == T and payload["source"] == SAMPLES[name].source
    jsonschema.validate(payload, _file_schema(repo_root, schema_id), cls=jsonschema.Draft202012Validator)


def test_payload_contents(received: dict) -> None:
    det = received["detections"][1]["detections"]
    assert det[0] == {"box": [1.0, 2.0, 30.0, 40.0], "confidence": pytest.approx(0.9), "class_id": 0,
                      "class_name": "car", "track_id": 3}
    assert det[1]["track_id"] is None and det[1]["class_name"] == "person"
    assert received["radar"][1]["objects"][1]["length"] is None  # NaN optional -> null
    car = received["objects"][1]["objects"][0]
    assert car["position_enu"] == [12.3, -4.1, 0.0] and car["lat"] == 48.0000123 and car["lon"] == 11.0001653
    assert car["speed_mps"] == pytest.approx(8.2097, abs=1e-3)
    assert received["env"][1]["values"] == {"pm10": 42.0, "pm2_5": None}
    assert received["outcome"][1]["command"]["command_id"] == "c-1"
    assert received["prediction"][1]["schema"] != received["alarm"][1]["schema"]


def test_every_sdk_product_type_is_mapped() -> None:
    published = {t for t in typing.get_args(Product) if t is not Frame}
    assert published == set(PRODUCT_OF)
    assert {type(p) for p in SAMPLES.values()} == published
    assert {schema for _, schema in PRODUCT_OF.values()} <= set(schema_ids())


def test_refusals_name_the_field() -> None:
    frame = Frame(source="cam-1", t_event_ns=T, frame_id=1, image=[[[0, 0, 0]]])
    with pytest.raises(InvalidDataError, match="Frame"):
        to_payload(frame)
    with pytest.raises(InvalidDataError, match="cannot publish str"):
        to_payload("hello")  # type: ignore[arg-type]
    bad = ObjectList(source="fusion", t_event_ns=T, objects=(
        FusedObject(track_id=1, position_enu=(0, 0, 0), velocity_enu=(0, 0), heading_deg=0, class_name="car",
                    confidence=0.5, lat=float("nan"), lon=11.0),))
    with pytest.raises(InvalidDataError, match=r"FusedObject\.lat"):
        to_payload(bad)


def test_schemas_dir_is_the_export_of_the_definitions(repo_root: Path) -> None:
    assert repo_schema_dir() == repo_root / "schemas"
    assert stale_files(repo_root / "schemas") == [], "run: python -m rsu.publish.schemas --write schemas"
    for schema_id in schema_ids():
        schema = _file_schema(repo_root, schema_id)
        jsonschema.Draft202012Validator.check_schema(schema)
        assert schema["properties"]["schema"]["const"] == schema_id
        assert schema["required"][:6] == ["schema", "site", "source", "seq", "t_event", "t_publish"]


def test_schema_check_cli(repo_root: Path, tmp_path: Path) -> None:
    from rsu.publish.schemas import _main

    assert _main(["--check", str(repo_root / "schemas")]) == 0
    assert _main(["--write", str(tmp_path)]) == 0
    (tmp_path / "rsu.objects-1.json").write_text("{}", encoding="utf-8")
    assert _main(["--check", str(tmp_path)]) == 1
