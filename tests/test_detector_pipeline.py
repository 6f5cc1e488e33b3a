"""The detector's fast paths: planar pre-processing, plain-image detection, pipelined stream mode.

Each fast path must give exactly what the straightforward path gives (real NanoDet-m on real vtest frames).
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
from rsu.inference.preprocess import InputSpec, letterbox, prepare_batch, stretch

SPECS = [
    InputSpec(size=(640, 640)),
    InputSpec(size=(320, 256), color="bgr"),
    InputSpec(size=(416, 416), resize="stretch", color="bgr", mean=(103.53, 116.28, 123.675),
              std=(57.375, 57.12, 58.395)),
    InputSpec(size=(300, 300), resize="stretch", layout="NHWC", mean=(127.5,) * 3, std=(127.5,) * 3),
]


def _reference(image: np.ndarray, spec: InputSpec) -> np.ndarray:
    """The textbook pipeline: resize, float HWC, colour swap, ``x * scale + offset``, transpose."""
    resized, _ = letterbox(image, spec.size, spec.pad_value) if spec.resize == "letterbox" \
        else stretch(image, spec.size)
    x = resized.astype(np.float32)
    if spec.color == "rgb":
        x = x[:, :, ::-1]
    x = x * spec._scale + spec._offset
    return (x.transpose(2, 0, 1) if spec.layout == "NCHW" else x)[None]


@pytest.mark.parametrize("spec", SPECS, ids=lambda s: f"{s.resize}-{s.color}-{s.layout}-{s.size[0]}")
def test_prepare_batch_is_bit_identical_to_the_reference(spec: InputSpec) -> None:
    rng = np.random.default_rng(3)
    images = [rng.integers(0, 256, shape, dtype=np.uint8) for shape in [(1080, 810, 3), (37, 1000, 3), (1, 5, 3)]]
    images.append(images[0][::3, 100:700])  # a non-contiguous view, as a crop of a frame would be
    for image in images:
        got, _ = prepare_batch([image], spec)
        assert got.dtype == np.float32 and got.flags.c_contiguous
        np.testing.assert_array_equal(got, _reference(image, spec))
    both, tfs = prepare_batch(images[:2], spec)
    assert len(tfs) == 2
    np.testing.assert_array_equal(both[1:], _reference(images[1], spec))


def test_prepare_batch_fills_a_given_buffer_and_rejects_a_wrong_one() -> None:
    spec = InputSpec(size=(64, 48))
    image = np.full((30, 40, 3), 200, np.uint8)
    buf = np.zeros((1, 3, 48, 64), np.float32)
    got, _ = prepare_batch([image], spec, out=buf)
    assert got is buf
    np.testing.assert_array_equal(buf, _reference(image, spec))
    with pytest.raises(ValueError, match=r"out: expected .*\(1, 3, 48, 64\)"):
        prepare_batch([image], spec, out=np.zeros((1, 48, 64, 3), np.float32))


@pytest.fixture(scope="module")
def frames() -> list[Frame]:
    cap = cv2.VideoCapture(str(fetch_all(assets_dir()) / "data/vtest.avi"))
    out = []
    for i in range(5):
        cap.set(cv2.CAP_PROP_POS_FRAMES, i * 60)
        ok, image = cap.read()
        assert ok
        out.append(Frame(source="vtest", t_event_ns=1000 + i, frame_id=i * 60, image=image))
    cap.release()
    return out


def _same(a, b) -> None:
    assert (a.source, a.t_event_ns, a.frame_id, a.image_size) == (b.source, b.t_event_ns, b.frame_id, b.image_size)
    np.testing.assert_array_equal(a.xyxy, b.xyxy)
    np.testing.assert_array_equal(a.confidence, b.confidence)
    np.testing.assert_array_equal(a.class_id, b.class_id)


@pytest.mark.parametrize("batch", [1, 2])
def test_stream_mode_gives_the_per_frame_results_in_order(frames: list[Frame], batch: int) -> None:
    det = Detector.from_config(DetectorConfig(model="nanodet-m", batch=batch, threads=1))
    one_by_one = [det.detect([f])[0] for f in frames]
    assert sum(len(d) for d in one_by_one) > 0
    streamed = list(det.detect_stream(iter(frames)))  # 5 frames: the last batch of 2 is partial
    assert len(streamed) == len(frames)
    for a, b in zip(streamed, one_by_one):
        _same(a, b)
    assert list(det.detect_stream([])) == []


def test_detect_image_on_a_plain_image_equals_detect_on_a_frame(frames: list[Frame]) -> None:
    det = Detector.from_config(DetectorConfig(model="nanodet-m", threads=1))
    frame = frames[2]
    plain = det.detect_image(np.array(frame.image), source="vtest", frame_id=frame.frame_id,
                             t_event_ns=frame.t_event_ns)
    _same(plain, det.detect([frame])[0])
    # anything but a uint8 (H, W, 3) array still goes through Frame's checks and conversion
    as_float = det.detect_image(frame.image.astype(np.float64), source="vtest", frame_id=frame.frame_id,
                                t_event_ns=frame.t_event_ns)
    _same(as_float, plain)
