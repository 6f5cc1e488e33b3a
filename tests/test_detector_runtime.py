"""Detector runtime pieces: NMS, letterbox maths, pre-processing, provider choice, decoder registry."""

from __future__ import annotations

import logging

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper

from rsu.inference.decoders.registry import DecoderEntry, DecoderRegistry, ModelInfo, default_registry
from rsu.inference.decoders.ssd import SsdDecoder, ssd_anchors
from rsu.inference.nms import batched_nms, box_iou, nms
from rsu.inference.preprocess import InputSpec, letterbox, prepare_batch, stretch
from rsu.inference.session import ModelError, OrtBackend, make_session, resolve_providers


def _reference_nms(boxes: np.ndarray, scores: np.ndarray, thr: float) -> list[int]:
    order = list(np.argsort(-scores, kind="stable"))
    keep = []
    while order:
        i = order.pop(0)
        keep.append(int(i))
        order = [j for j in order if box_iou(boxes[i:i + 1], boxes[j:j + 1])[0, 0] <= thr]
    return keep


def test_box_iou_known_values() -> None:
    a = np.array([[0, 0, 10, 10]], np.float32)
    b = np.array([[0, 0, 10, 10], [5, 0, 15, 10], [20, 20, 30, 30], [0, 0, 5, 5]], np.float32)
    np.testing.assert_allclose(box_iou(a, b)[0], [1.0, 50 / 150, 0.0, 0.25], rtol=1e-6)


def test_nms_matches_reference_on_random_boxes() -> None:
    rng = np.random.default_rng(7)
    xy = rng.uniform(0, 200, (300, 2))
    wh = rng.uniform(5, 60, (300, 2))
    boxes = np.concatenate([xy, xy + wh], 1).astype(np.float32)
    scores = rng.uniform(0, 1, 300).astype(np.float32)
    assert nms(boxes, scores, 0.45).tolist() == _reference_nms(boxes, scores, 0.45)


def test_nms_respects_max_detections_and_empty_input() -> None:
    boxes = np.array([[0, 0, 10, 10], [100, 100, 110, 110], [200, 0, 210, 10]], np.float32)
    assert nms(boxes, np.array([0.9, 0.8, 0.7], np.float32), 0.5, max_detections=2).tolist() == [0, 1]
    assert nms(np.zeros((0, 4), np.float32), np.zeros(0, np.float32), 0.5).size == 0


def test_batched_nms_keeps_overlapping_boxes_of_other_classes() -> None:
    boxes = np.array([[0, 0, 10, 10], [1, 1, 10, 10], [0, 0, 10, 10]], np.float32)
    scores = np.array([0.9, 0.8, 0.7], np.float32)
    keep = batched_nms(boxes, scores, np.array([0, 0, 1]), 0.5)
    assert sorted(keep.tolist()) == [0, 2]


def test_letterbox_maths_round_trip() -> None:
    image = np.zeros((1080, 810, 3), np.uint8)
    out, tf = letterbox(image, (640, 640))
    assert out.shape == (640, 640, 3)
    assert tf.scale_x == pytest.approx(480 / 810) and tf.scale_y == pytest.approx(640 / 1080)
    assert (tf.pad_x, tf.pad_y) == (80.0, 0.0)
    assert (out[:, :80] == 114).all() and (out[:, 560:] == 114).all()
    box = np.array([[100, 200, 400, 1000]], np.float32)
    model_box = np.array([[100 * tf.scale_x + 80, 200 * tf.scale_y, 400 * tf.scale_x + 80, 1000 * tf.scale_y]])
    np.testing.assert_allclose(tf.to_image(model_box), box, atol=1e-3)
    # boxes outside the image are clipped to it
    np.testing.assert_allclose(tf.to_image(np.array([[0, -5, 700, 650]])), [[0, 0, 810, 1080]], atol=0.5)


def test_stretch_maths() -> None:
    out, tf = stretch(np.zeros((576, 768, 3), np.uint8), (300, 300))
    assert out.shape == (300, 300, 3)
    np.testing.assert_allclose(tf.to_image(np.array([[150, 150, 300, 300]])), [[384, 288, 768, 576]], atol=1e-3)


def test_prepare_batch_layout_colour_and_normalisation() -> None:
    blue = np.zeros((20, 30, 3), np.uint8)
    blue[..., 0] = 255  # BGR blue
    spec = InputSpec(size=(16, 16), resize="stretch", color="rgb", mean=(127.5,) * 3, std=(127.5,) * 3)
    batch, tfs = prepare_batch([blue, blue], spec)
    assert batch.shape == (2, 3, 16, 16) and batch.dtype == np.float32 and len(tfs) == 2
    np.testing.assert_allclose(batch[0, 2], 1.0)   # blue is the last channel in RGB
    np.testing.assert_allclose(batch[0, 0], -1.0)
    nhwc, _ = prepare_batch([blue], InputSpec(size=(16, 16), resize="stretch", layout="NHWC", color="bgr"))
    assert nhwc.shape == (1, 16, 16, 3)
    np.testing.assert_allclose(nhwc[0, :, :, 0], 1.0)


def test_provider_order_follows_preference_with_cpu_fallback(caplog: pytest.LogCaptureFixture) -> None:
    installed = ort.get_available_providers()
    with caplog.at_level(logging.INFO, logger="rsu.inference.session"):
        chosen = resolve_providers(["tensorrt", "cuda", "cann", "openvino", "cpu"])
    assert chosen[-1] == "CPUExecutionProvider"
    assert all(p in installed for p in chosen)
    order = ["TensorrtExecutionProvider", "CUDAExecutionProvider", "CANNExecutionProvider",
             "OpenVINOExecutionProvider", "CPUExecutionProvider"]
    assert [p for p in order if p in installed] == chosen
    if len(chosen) < len(order):
        assert "not installed, skipped" in caplog.text
    # the same logic against an explicit list of installed providers (as on a CUDA box)
    assert resolve_providers(["cuda", "cpu"], ["CPUExecutionProvider", "CUDAExecutionProvider"]) == \
        ["CUDAExecutionProvider", "CPUExecutionProvider"]
    assert resolve_providers(["tensorrt"], ["CPUExecutionProvider"]) == ["CPUExecutionProvider"]


def _tiny_model(path) -> None:
    x = helper.make_tensor_value_info("images", TensorProto.FLOAT, ["batch", 3, 8, 8])
    y = helper.make_tensor_value_info("out", TensorProto.FLOAT, ["batch", 3, 8, 8])
    graph = helper.make_graph([helper.make_node("Relu", ["images"], ["out"])], "tiny", [x], [y])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    entry = model.metadata_props.add()
    entry.key, entry.value = "rsu.decoder", "ssd"
    onnx.save(model, str(path))


def test_session_options_and_backend(tmp_path) -> None:
    _tiny_model(tmp_path / "tiny.onnx")
    backend = OrtBackend(tmp_path / "tiny.onnx", ["cuda", "cpu"], threads=1, allow_spinning=False)
    assert backend.providers[-1] == "CPUExecutionProvider"
    assert backend.metadata == {"rsu.decoder": "ssd"} and backend.fixed_batch is None
    out = backend.run(-np.ones((2, 3, 8, 8), np.float32))
    assert out[0].shape == (2, 3, 8, 8) and float(out[0].max()) == 0.0


def test_model_errors_name_the_file(tmp_path) -> None:
    with pytest.raises(ModelError, match="not found"):
        make_session(tmp_path / "nope.onnx", ["cpu"])
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"not a model at all")
    with pytest.raises(ModelError, match="bad.onnx"):
        make_session(bad, ["cpu"])


def test_ssd_anchor_grid_and_zero_offsets_decode_to_anchors() -> None:
    anchors = ssd_anchors((300, 300))
    assert anchors.shape == (1917, 4)
    dec = SsdDecoder(anchors, (300, 300))
    boxes = np.zeros((1, 1917, 4), np.float32)
    logits = np.full((1, 1917, 24), -10.0, np.float32)
    logits[0, 5, 4] = 3.0  # anchor 5, class 4
    raw = dec.decode([boxes, logits], 0, 0.5)
    assert raw.class_ids.tolist() == [4]
    assert raw.scores[0] == pytest.approx(1 / (1 + np.exp(-3.0)), rel=1e-5)
    yc, xc, h, w = anchors[5]
    np.testing.assert_allclose(raw.xyxy[0], [(xc - w / 2) * 300, (yc - h / 2) * 300, (xc + w / 2) * 300,
                                             (yc + h / 2) * 300], rtol=1e-5)


def test_registry_chooses_by_metadata_then_shapes() -> None:
    reg = default_registry()
    ssd = ModelInfo(input_shape=(1, 3, 300, 300), input_size=(300, 300), layout="NCHW",
                    output_shapes=((1, 1917, 4), (1, 1917, 24)))
    assert reg.choose(ssd).name == "ssd"
    nano = ModelInfo(input_shape=(1, 3, 416, 416), input_size=(416, 416), layout="NCHW",
                     output_shapes=((1, 2704, 80), (1, 676, 80), (1, 169, 80), (1, 2704, 44), (1, 676, 44),
                                    (1, 169, 44)))
    assert reg.choose(nano).name == "nanodet"
    tagged = ModelInfo(input_shape=(1, 3, 416, 416), input_size=(416, 416), layout="NCHW",
                       output_shapes=((1, 5, 5),), metadata={"rsu.decoder": "nanodet"})
    assert reg.choose(tagged).name == "nanodet"
    odd = ModelInfo(input_shape=(1, 3, 64, 64), input_size=(64, 64), layout="NCHW", output_shapes=((1, 7),))
    with pytest.raises(ValueError, match="no decoder recognises"):
        reg.choose(odd)
    with pytest.raises(KeyError, match="unknown decoder"):
        reg.choose(odd, "nope")


def test_registry_accepts_new_entries() -> None:
    reg = DecoderRegistry()
    entry = DecoderEntry(name="mine", build=lambda info: SsdDecoder(ssd_anchors(info.input_size), info.input_size),
                         matches=lambda info: info.output_shapes == ((1, 7),))
    reg.register(entry)
    odd = ModelInfo(input_shape=(1, 3, 64, 64), input_size=(64, 64), layout="NCHW", output_shapes=((1, 7),))
    assert reg.choose(odd) is entry and reg.names() == ["mine"]
