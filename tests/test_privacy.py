"""Privacy blur: which regions, how strongly, on by default, off only explicitly."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
from rsu_sdk import Detections, Frame

from rsu.assetfetch.fetch import fetch_all
from rsu.assets.paths import assets_dir
from rsu.config import parse_config
from rsu.config.models import DetectorConfig, PrivacyConfig
from rsu.privacy import Redactor, blur_regions, privacy_regions

NAMES = ("person", "car", "dog")


def _dets(boxes, classes, size=(400, 600)) -> Detections:
    return Detections(source="cam", t_event_ns=1, frame_id=0, xyxy=np.asarray(boxes, np.float32),
                      confidence=np.full(len(boxes), 0.9, np.float32), class_id=np.asarray(classes, np.int32),
                      class_names=NAMES, image_size=size)


def _sharpness(img: np.ndarray) -> float:
    return float(cv2.Laplacian(cv2.cvtColor(img, cv2.COLOR_BGR2GRAY), cv2.CV_64F).var())


def test_regions_head_band_and_plate_band() -> None:
    dets = _dets([[100, 100, 200, 500], [10, 300, 210, 400], [300, 10, 350, 60]], [0, 1, 2])
    regions = privacy_regions(dets, PrivacyConfig())
    assert regions.tolist() == [[100, 100, 200, 212],   # top 28 % of the person
                                [40, 355, 180, 400]]    # car: rows 55-100 %, central 70 % of the width
    # the dog is neither a person nor a vehicle


def test_regions_are_clipped_to_the_image() -> None:
    dets = _dets([[390, 590, 400, 600]], [1])
    r = privacy_regions(dets, PrivacyConfig())
    assert (r[:, [0, 2]] <= 400).all() and (r[:, [1, 3]] <= 600).all()


@pytest.mark.parametrize("method", ["gaussian", "pixelate"])
def test_blur_destroys_detail_inside_and_leaves_outside(method: str) -> None:
    img = np.random.default_rng(3).integers(0, 255, (200, 300, 3), dtype=np.uint8)
    out = blur_regions(img, [[50, 40, 150, 120]], method)
    inside, before = out[40:120, 50:150], img[40:120, 50:150]
    assert _sharpness(inside) < 0.02 * _sharpness(before)
    mask = np.ones(img.shape[:2], bool)
    mask[40:120, 50:150] = False
    assert (out[mask] == img[mask]).all()
    assert not np.shares_memory(out, img)


def test_on_by_default_and_off_only_explicitly() -> None:
    site = {"site": {"name": "s1", "lat": 0, "lon": 0}}
    assert parse_config(site).privacy.blur is True
    assert parse_config({**site, "privacy": {"blur": False}}).privacy.blur is False
    img = np.random.default_rng(4).integers(0, 255, (600, 400, 3), dtype=np.uint8)
    frame = Frame(source="cam", t_event_ns=1, frame_id=0, image=img)
    dets = _dets([[100, 100, 200, 500]], [0])
    assert Redactor(PrivacyConfig(blur=False)).redact(frame, dets) is frame
    red = Redactor().redact(frame, dets)
    assert red is not frame and not np.array_equal(red.image, frame.image)
    assert np.array_equal(red.image[300:], frame.image[300:])  # below the head band untouched


def test_blurs_real_faces_found_by_the_demo_detector() -> None:
    from rsu.inference.detector import Detector

    root = fetch_all(assets_dir())
    image = cv2.imread(str(root / "data/bus.jpg"))
    dets = Detector.from_config(DetectorConfig(model="nanodet-m")).detect_image(image)
    out = Redactor().redact_image(image, dets)
    face = (slice(430, 520), slice(100, 190))  # the left man's face, checked by eye
    assert _sharpness(out[face]) < 0.05 * _sharpness(image[face])
