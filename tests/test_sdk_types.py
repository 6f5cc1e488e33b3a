"""SDK value types behave like values: equality, hashing, pickling, validation, no copies (issue 14 item 7)."""

from __future__ import annotations

import copy
import dataclasses
import pickle
import re

import numpy as np
import pytest
import rsu_sdk
from rsu_sdk import (
    ActuationCommand, Alarm, Detections, Frame, FusedObject, HealthEvent, InvalidDataError, RadarObject,
)
from rsu_sdk import testing as kit
from rsu_sdk import types as sdk_types

ALL_VALUES = {
    "frame": kit.make_frame(), "detections": kit.make_detections(["person", "car", "car"]),
    "tracked": kit.make_detections(["car", "bus"], track_id=[4, -1]), "radar_object": kit.make_radar_object(),
    "radar_scan": kit.make_radar_scan(), "fused_object": kit.make_fused_object(), "objects": kit.make_object_list(),
    "reading": kit.make_reading(units={"temp": "degC"}), "prediction": kit.make_prediction(0.3),
    "alarm": kit.make_alarm(), "command": kit.make_actuation_command(), "outcome": kit.make_actuation_outcome(),
    "health": kit.make_health_event(),
}


@pytest.mark.parametrize("name", sorted(ALL_VALUES))
def test_every_value_equals_its_copies_and_hashes_consistently(name: str) -> None:
    value = ALL_VALUES[name]
    twins = [copy.deepcopy(value), pickle.loads(pickle.dumps(value)), dataclasses.replace(value)]
    for twin in twins:
        assert twin is not value and twin == value and not (twin != value)
        assert hash(twin) == hash(value)
    assert len({value, *twins}) == 1  # usable in sets and as dict keys
    assert value != object() and value != "x"


def test_array_types_compare_their_arrays_by_value() -> None:
    d = kit.make_detections(["person", "car"])
    moved = dataclasses.replace(d, xyxy=d.xyxy + 1)
    assert d != moved and d == dataclasses.replace(d, xyxy=d.xyxy.copy())
    assert d != dataclasses.replace(d, track_id=[1, 2]) and d != dataclasses.replace(d, frame_id=1)
    assert dataclasses.replace(d, track_id=[1, 2]) == dataclasses.replace(d, track_id=np.array([1, 2]))
    f = kit.make_frame()
    lit = dataclasses.replace(f, image=np.full_like(f.image, 9))
    assert f != lit and hash(f) == hash(lit)  # hash covers scalar fields only: consistent with ==
    assert f != kit.make_frame(width=8, height=8)
    r = kit.make_reading({"temp": 1.0})
    assert r != kit.make_reading({"temp": 2.0}) and r != kit.make_reading({"temp": 1.0}, units={"temp": "K"})


def test_frame_holds_a_read_only_view_not_a_copy() -> None:
    buffer = np.zeros((4, 6, 3), np.uint8)
    frame = Frame(source="cam-1", t_event_ns=1, frame_id=0, image=buffer)
    assert np.shares_memory(frame.image, buffer) and frame.image.base is not None
    assert not frame.image.flags.writeable and buffer.flags.writeable  # the producer's array is untouched
    with pytest.raises(ValueError):
        frame.image[0, 0, 0] = 1
    converted = Frame(source="cam-1", t_event_ns=1, frame_id=0, image=[[[1, 2, 3]]])  # non-arrays converted once
    assert converted.image.dtype == np.uint8 and converted.size == (1, 1)
    with pytest.raises(InvalidDataError, match=r"Frame.image: expected shape \(N, N, 3\), got \(4, 6\)"):
        Frame(source="cam-1", t_event_ns=1, frame_id=0, image=np.zeros((4, 6), np.uint8))


def test_detections_select_iterate_merge_and_empty_like_supervision() -> None:
    d = kit.make_detections(["person", "car", "car"], track_id=[7, 8, 9])
    cars = d[d.class_id == d.class_names.index("car")]
    assert cars.labels == ["car", "car"] and cars.track_id.tolist() == [8, 9] and cars.frame_id == d.frame_id
    assert d[0].labels == ["person"] and len(d[1:]) == 2 and d[[2, 0]].track_id.tolist() == [9, 7]
    assert [len(one) for one in d] == [1, 1, 1] and [one.labels[0] for one in d] == d.labels
    assert Detections.merge([d[:1], d[1:]]) == d
    assert Detections.merge([d, d[:0]]) == d
    assert Detections.merge([d[:1], dataclasses.replace(d[1:], track_id=None)]).track_id is None
    empty = Detections.empty(source="cam-1", t_event_ns=kit.T0_NS, frame_id=0, class_names=d.class_names,
                             image_size=(640, 480))
    assert len(empty) == 0 and empty.xyxy.shape == (0, 4)
    assert empty == dataclasses.replace(d[np.zeros(3, bool)], track_id=None)
    assert not d.xyxy.flags.writeable and not cars.confidence.flags.writeable
    with pytest.raises(InvalidDataError, match=r"mask of shape \(3,\)"):
        d[np.array([True, False])]
    with pytest.raises(IndexError):
        d[5]
    with pytest.raises(InvalidDataError, match=r"parts\[1\]: expected the same source"):
        Detections.merge([d, dataclasses.replace(d, source="cam-2")])
    with pytest.raises(InvalidDataError, match="at least one"):
        Detections.merge([])


@pytest.mark.parametrize("build, message", [
    (lambda: kit.make_fused_object(class_name="person"),
     "FusedObject.class_name: expected one of 'car', 'truck', 'pedestrian', 'bicycle', 'motorcycle', 'unknown', "
     "got 'person'"),
    (lambda: kit.make_fused_object(state="gone"), "FusedObject.state: expected one of 'tentative', 'confirmed', "
                                                  "'lost', got 'gone'"),
    (lambda: kit.make_radar_object(class_name="van"), "RadarObject.class_name: expected one of 'point', "),
    (lambda: kit.make_alarm(severity="fatal"), "Alarm.severity: expected one of 'info', 'warning', 'critical', "
                                               "got 'fatal'"),
    (lambda: kit.make_health_event(status="up"), "HealthEvent.status: expected one of 'ok', 'degraded', 'down', "
                                                 "got 'up'"),
    (lambda: kit.make_actuation_command(action="toggle"), "ActuationCommand.action: expected one of 'on', 'off', "
                                                          "got 'toggle'"),
    (lambda: kit.make_actuation_command(command_id=""), "ActuationCommand.command_id: expected a non-empty string"),
    (lambda: kit.make_fused_object(size=(1.0, 2.0)), "FusedObject.size: expected"),
    (lambda: kit.make_object_list([kit.make_radar_object()]), "ObjectList.objects[0]: expected FusedObject"),
    (lambda: kit.make_actuation_outcome(command="cmd-1"), "ActuationOutcome.command: expected ActuationCommand"),
    (lambda: kit.make_detections(["car"], class_names=("car", 3)), "Detections.class_names: expected a tuple"),
    (lambda: kit.make_detections(["car"], xyxy=[[1, 2, 3]]), "Detections.xyxy: expected shape (N, 4), got (1, 3)"),
])
def test_literal_and_structured_fields_are_validated_with_expected_got_messages(build, message: str) -> None:
    with pytest.raises(InvalidDataError, match=re.escape(message)):
        build()


def test_allowed_values_are_exported_constants_matching_the_literal_annotations() -> None:
    assert rsu_sdk.OBJECT_CLASSES == ("car", "truck", "pedestrian", "bicycle", "motorcycle", "unknown")
    assert rsu_sdk.TRACK_STATES == ("tentative", "confirmed", "lost")
    assert rsu_sdk.SEVERITIES == ("info", "warning", "critical") and rsu_sdk.ACTIONS == ("on", "off")
    assert rsu_sdk.HEALTH_STATUSES == ("ok", "degraded", "down") and "wide" in rsu_sdk.RADAR_CLASSES
    for value in rsu_sdk.OBJECT_CLASSES:
        assert kit.make_fused_object(class_name=value).class_name == value
    for value in rsu_sdk.RADAR_CLASSES:
        assert RadarObject(object_id=1, dist_long=1.0, dist_lat=0.0, class_name=value).class_name == value
    assert {s for s in rsu_sdk.SEVERITIES} == {Alarm(source="a", t_event_ns=0, device="d", kind="k", active=True,
                                                       severity=s).severity for s in rsu_sdk.SEVERITIES}


def test_the_fusion_core_produces_only_the_documented_classes_and_states() -> None:
    from rsu.fusion.classes import CLASSES
    from rsu.fusion.tracker import STATE_NAMES

    assert tuple(CLASSES) == rsu_sdk.OBJECT_CLASSES and tuple(STATE_NAMES) == rsu_sdk.TRACK_STATES


def test_types_module_keeps_every_public_name_and_product_types_match_the_union() -> None:
    for name in ("Frame", "Detections", "RadarObject", "RadarScan", "FusedObject", "ObjectList", "SensorReading",
                 "Prediction", "Alarm", "ActuationCommand", "ActuationOutcome", "HealthEvent", "Product"):
        assert getattr(sdk_types, name) is getattr(rsu_sdk, name)
    assert set(rsu_sdk.Product.__args__) == set(rsu_sdk.PRODUCT_TYPES)
    assert set(rsu_sdk.PRODUCT_HOOKS) == set(rsu_sdk.PRODUCT_TYPES)
    assert rsu_sdk.hook_for(kit.make_actuation_command()) == ("rsu_on_command", "command")
    assert isinstance(kit.make_health_event(), HealthEvent) and isinstance(kit.make_fused_object(), FusedObject)
    assert isinstance(kit.make_actuation_command(), ActuationCommand)
