"""The real pretrained detectors on real images, against boxes checked by eye.

bus.jpg (810x1080): a bus and four people (one cut by the left edge). vtest.avi frames 0 and 300: people on
the paths and a white van + a car parked top right. Boxes below were drawn on the images and checked by eye.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
from rsu_sdk import Frame

from rsu.assetfetch.fetch import fetch_all
from rsu.assets.paths import assets_dir
from rsu.config.models import DetectorConfig
from rsu.inference.detector import Detector
from rsu.inference.nms import box_iou
from rsu.inference.tflite import litert_available

BUS = [18, 220, 795, 752]
BUS_PEOPLE = [[50, 390, 240, 900], [220, 402, 346, 860], [672, 385, 810, 880], [0, 552, 74, 870]]
VTEST = {
    0: {"people": [[499, 157, 531, 235], [638, 238, 685, 325], [250, 219, 284, 310]], "vehicles": [[650, 42, 725, 99]]},
    300: {"people": [[580, 160, 613, 236], [182, 158, 222, 235], [310, 210, 347, 296], [239, 159, 268, 222],
                     [615, 161, 646, 234], [294, 158, 327, 229]], "vehicles": [[650, 42, 725, 99]]},
}


@pytest.fixture(scope="module")
def assets() -> Path:
    return fetch_all(assets_dir())


def _matched(dets, truth: list[list[int]], labels: set[str], iou: float = 0.5) -> int:
    boxes = dets.xyxy[[lab in labels for lab in dets.labels]]
    if not len(boxes):
        return 0
    m = box_iou(np.asarray(truth, np.float32), boxes)
    return int((m.max(1) >= iou).sum())


def _vtest_frame(assets: Path, index: int) -> np.ndarray:
    cap = cv2.VideoCapture(str(assets / "data/vtest.avi"))
    cap.set(cv2.CAP_PROP_POS_FRAMES, index)
    ok, image = cap.read()
    cap.release()
    assert ok
    return image


def test_nanodet_finds_the_bus_and_four_people(assets: Path) -> None:
    det = Detector.from_config(DetectorConfig(model="nanodet-m"))  # default threshold 0.35
    dets = det.detect_image(cv2.imread(str(assets / "data/bus.jpg")))
    assert _matched(dets, [BUS], {"bus"}) == 1
    assert _matched(dets, BUS_PEOPLE, {"person"}) == 4
    bus_score = dets.confidence[np.array(dets.labels) == "bus"].max()
    assert bus_score > 0.7


def test_ssd_on_bus_needs_per_class_thresholds(assets: Path) -> None:
    """The SSD's label map has no Bus: it sees the bus as Vehicle at about 0.27, the edge person at 0.22."""
    image = cv2.imread(str(assets / "data/bus.jpg"))
    default = Detector.from_config(DetectorConfig(model="ssd-mobilenetv2", conf_threshold=0.4)).detect_image(image)
    assert _matched(default, BUS_PEOPLE, {"Person"}) == 3
    tuned = Detector.from_config(DetectorConfig(model="ssd-mobilenetv2", conf_threshold=0.4,
                                                class_thresholds={"Vehicle": 0.25, "Person": 0.2}))
    dets = tuned.detect_image(image)
    assert _matched(dets, [BUS], {"Vehicle"}) == 1
    assert _matched(dets, BUS_PEOPLE, {"Person"}) == 4


@pytest.mark.parametrize("model,people,vehicles", [("nanodet-m", {"person"}, {"car", "truck", "bus"}),
                                                    ("ssd-mobilenetv2", {"Person"}, {"Car", "Vehicle"}),
                                                    ("ssd-mobilenetv2-int8", {"Person"}, {"Car", "Vehicle"})])
def test_vtest_people_and_vehicles(assets: Path, model: str, people: set[str], vehicles: set[str]) -> None:
    det = Detector.from_config(DetectorConfig(model=model, conf_threshold=0.35))
    for index, truth in VTEST.items():
        dets = det.detect_image(_vtest_frame(assets, index), source="vtest", frame_id=index)
        assert _matched(dets, truth["vehicles"], vehicles) == 1, (model, index)
        need = len(truth["people"]) if model == "nanodet-m" else len(truth["people"]) // 2
        assert _matched(dets, truth["people"], people) >= need, (model, index)


def test_batch_inference_equals_one_by_one(assets: Path) -> None:
    images = [_vtest_frame(assets, i) for i in (0, 100, 300)]
    frames = [Frame(source="vtest", t_event_ns=i, frame_id=i, image=img) for i, img in enumerate(images)]
    batched = Detector.from_config(DetectorConfig(model="nanodet-m", batch=3))
    assert batched.batch == 3
    together = batched.detect(frames)
    assert batched.stats["batches"] == 1
    single = Detector.from_config(DetectorConfig(model="nanodet-m"))
    for frame, dets in zip(frames, together):
        alone = single.detect([frame])[0]
        assert dets.frame_id == frame.frame_id and dets.image_size == (768, 576)
        assert alone.labels == dets.labels
        np.testing.assert_allclose(alone.xyxy, dets.xyxy, atol=0.05)


def test_class_filter_keeps_only_named_classes(assets: Path) -> None:
    det = Detector.from_config(DetectorConfig(model="nanodet-m", classes=["bus"]))
    dets = det.detect_image(cv2.imread(str(assets / "data/bus.jpg")))
    assert dets.labels == ["bus"]


@pytest.mark.skipif(not litert_available(), reason="ai-edge-litert not installed (extra 'litert')")
def test_litert_runs_the_shipped_tflite_like_the_converted_onnx(assets: Path) -> None:
    image = cv2.imread(str(assets / "data/bus.jpg"))
    tfl = Detector.from_config(DetectorConfig(model="ssd-mobilenetv2-tflite", conf_threshold=0.4))
    onx = Detector.from_config(DetectorConfig(model="ssd-mobilenetv2", conf_threshold=0.4))
    assert tfl.spec.layout == "NHWC" and tfl.backend.providers == ["LiteRT"]
    a, b = tfl.detect_image(image), onx.detect_image(image)
    assert a.labels == b.labels and len(a) >= 3
    np.testing.assert_allclose(a.confidence, b.confidence, atol=2e-3)
    np.testing.assert_allclose(a.xyxy, b.xyxy, atol=1.0)
