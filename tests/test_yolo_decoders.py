"""YOLO decoders on head tensors with known boxes (no torch needed), and on a small real ONNX graph that
computes the anchor-based YOLOv5 head (sigmoid, grid, anchors) the way the YOLOv5 export does."""

from __future__ import annotations

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper, numpy_helper

from rsu.inference.decoders.base import RawDetections
from rsu.inference.decoders.registry import DecoderRegistry, ModelInfo, default_registry
from rsu.inference.decoders.yolo import YoloV5Decoder, YoloV8Decoder, grid_cells, register_decoders

NC = 80


def _v8_head(boxes_cxcywh: list[tuple[float, float, float, float]], cls: list[int], scores: list[float],
             cells: int = 8400, batch: int = 1) -> np.ndarray:
    rng = np.random.default_rng(1)
    out = np.zeros((batch, 4 + NC, cells), np.float32)
    out[:, :4] = rng.uniform(0, 640, size=(batch, 4, cells))
    out[:, 4:] = rng.uniform(0, 0.2, size=(batch, NC, cells))  # background noise below the threshold
    slots = [17, 4000, 8399][: len(boxes_cxcywh)]
    for slot, box, c, s in zip(slots, boxes_cxcywh, cls, scores):
        out[-1, :4, slot] = box
        out[-1, 4 + c, slot] = s
    return out


def test_v8_decodes_known_boxes_exactly() -> None:
    out = _v8_head([(100, 200, 40, 60), (320.5, 320.5, 11, 13), (600, 10, 80, 20)], [0, 2, 79], [0.9, 0.55, 0.31])
    raw = YoloV8Decoder().decode([out], 0, 0.25)
    assert isinstance(raw, RawDetections)
    order = np.argsort(-raw.scores)
    np.testing.assert_allclose(raw.xyxy[order], [[80, 170, 120, 230], [315, 314, 326, 327], [560, 0, 640, 20]])
    np.testing.assert_allclose(raw.scores[order], [0.9, 0.55, 0.31], rtol=1e-6)
    assert raw.class_ids[order].tolist() == [0, 2, 79]
    assert raw.xyxy.dtype == np.float32 and raw.scores.dtype == np.float32 and raw.class_ids.dtype == np.int32


def test_v8_threshold_batch_index_and_transposed_layout() -> None:
    out = _v8_head([(100, 200, 40, 60), (320, 320, 10, 10)], [5, 6], [0.9, 0.4], batch=2)
    assert YoloV8Decoder().decode([out], 0, 0.25).xyxy.shape == (0, 4)  # image 0 holds only noise
    assert YoloV8Decoder().decode([out], 1, 0.5).class_ids.tolist() == [5]
    both = YoloV8Decoder().decode([out], 1, 0.25)
    flipped = YoloV8Decoder().decode([np.ascontiguousarray(out.transpose(0, 2, 1))], 1, 0.25)
    np.testing.assert_array_equal(both.xyxy, flipped.xyxy)
    np.testing.assert_array_equal(both.class_ids, flipped.class_ids)


def test_v5_score_is_objectness_times_class() -> None:
    out = np.zeros((1, 25200, 85), np.float32)
    out[0, :, 5:] = 0.9  # high class scores everywhere, but objectness 0: nothing passes
    out[0, 10, :5] = (50, 60, 20, 30, 0.8)
    out[0, 10, 5 + 3] = 0.95  # 0.8 * 0.95 = 0.76 -> class 3
    out[0, 20000, :5] = (300, 300, 100, 50, 0.5)  # 0.5 * 0.9 = 0.45
    out[0, 300, :5] = (1, 1, 1, 1, 0.3)  # 0.3 * 0.9 = 0.27 < 0.3
    raw = YoloV5Decoder().decode([out], 0, 0.3)
    order = np.argsort(-raw.scores)
    np.testing.assert_allclose(raw.xyxy[order], [[40, 45, 60, 75], [250, 275, 350, 325]])
    np.testing.assert_allclose(raw.scores[order], [0.76, 0.45], rtol=1e-6)
    assert raw.class_ids[order].tolist() == [3, 0]


def test_decoders_reject_wrong_shapes_with_clear_message() -> None:
    with pytest.raises(ValueError, match=r"yolov8 decoder: expected \(B, 84, N\)"):
        YoloV8Decoder(num_classes=80).decode([np.zeros((1, 85, 8400), np.float32)], 0, 0.25)
    with pytest.raises(ValueError, match=r"yolov5 decoder: expected \(B, N, 85\)"):
        YoloV5Decoder(num_classes=80).decode([np.zeros((1, 25200, 84), np.float32)], 0, 0.25)
    with pytest.raises(ValueError, match="expected one"):
        YoloV5Decoder().decode([np.zeros((1, 10), np.float32)], 0, 0.25)


def test_registry_chooses_yolo_heads_by_shape() -> None:
    reg = default_registry()
    assert {"yolov5", "yolov8"} <= set(reg.names())

    def info(size: int, shape: tuple[int, ...]) -> ModelInfo:
        return ModelInfo(input_shape=(1, 3, size, size), input_size=(size, size), layout="NCHW",
                         output_shapes=(shape,))

    assert grid_cells((640, 640)) == 8400 and grid_cells((320, 320)) == 2100
    assert reg.choose(info(640, (1, 84, 8400))).name == "yolov8"
    assert reg.choose(info(640, (1, 25200, 85))).name == "yolov5"
    v8 = reg.choose(info(320, (1, 2100, 84)))
    built = v8.build(info(320, (1, 2100, 84)))
    assert v8.name == "yolov8" and built.num_classes == 80 and built.transposed is True
    assert reg.choose(info(640, (1, 25200, 7))).build(info(640, (1, 25200, 7))).num_classes == 2
    own = DecoderRegistry()
    register_decoders(own)
    assert own.names() == ["yolov8", "yolov5"] and own.get("yolov8").preprocess["resize"] == "letterbox"


# --- a real ONNX graph of the anchor-based YOLOv5 head (yolov5 models/yolo.py Detect, export mode) ---------

ANCHORS = {8: [(10, 13), (16, 30), (33, 23)], 16: [(30, 61), (62, 45), (59, 119)],
           32: [(116, 90), (156, 198), (373, 326)]}


def _v5_head_graph(size: int, nc: int) -> onnx.ModelProto:
    """Inputs p8, p16, p32 raw logits ``[1, 3*(5+nc), H/s, W/s]`` -> ``[1, 3*cells, 5+nc]`` as YOLOv5 exports."""
    no, nodes, inits, inputs, parts = 5 + nc, [], [], [], []
    for s, anchors in ANCHORS.items():
        n = size // s
        yv, xv = np.meshgrid(np.arange(n), np.arange(n), indexing="ij")
        grid = (np.stack((xv, yv), 2)[None, None] - 0.5).astype(np.float32) * s  # (grid - 0.5) * stride
        ag = np.asarray(anchors, np.float32).reshape(1, 3, 1, 1, 2)
        for name, arr in ((f"grid{s}", grid), (f"anchor{s}", ag), (f"shape{s}", np.array([1, 3, no, n, n])),
                          (f"flat{s}", np.array([1, 3 * n * n, no])), (f"two{s}", np.array([2, 2, no - 4])),
                          (f"k{s}", np.array(2.0 * s, np.float32)), (f"c2_{s}", np.array(2.0, np.float32))):
            inits.append(numpy_helper.from_array(np.asarray(arr), name))
        inputs.append(helper.make_tensor_value_info(f"p{s}", TensorProto.FLOAT, [1, 3 * no, n, n]))
        nodes += [
            helper.make_node("Reshape", [f"p{s}", f"shape{s}"], [f"r{s}"]),
            helper.make_node("Transpose", [f"r{s}"], [f"t{s}"], perm=[0, 1, 3, 4, 2]),
            helper.make_node("Sigmoid", [f"t{s}"], [f"y{s}"]),
            helper.make_node("Split", [f"y{s}", f"two{s}"], [f"xy{s}", f"wh{s}", f"conf{s}"], axis=4),
            helper.make_node("Mul", [f"xy{s}", f"k{s}"], [f"xy2{s}"]),  # xy * 2 * stride
            helper.make_node("Add", [f"xy2{s}", f"grid{s}"], [f"xyo{s}"]),  # + (grid - 0.5) * stride
            helper.make_node("Mul", [f"wh{s}", f"c2_{s}"], [f"wh2{s}"]),
            helper.make_node("Mul", [f"wh2{s}", f"wh2{s}"], [f"wh4{s}"]),  # (wh * 2) ** 2
            helper.make_node("Mul", [f"wh4{s}", f"anchor{s}"], [f"who{s}"]),
            helper.make_node("Concat", [f"xyo{s}", f"who{s}", f"conf{s}"], [f"cat{s}"], axis=4),
            helper.make_node("Reshape", [f"cat{s}", f"flat{s}"], [f"out{s}"]),
        ]
        parts.append(f"out{s}")
    nodes.append(helper.make_node("Concat", parts, ["output0"], axis=1))
    cells = 3 * grid_cells((size, size))
    graph = helper.make_graph(nodes, "yolov5_head", inputs,
                              [helper.make_tensor_value_info("output0", TensorProto.FLOAT, [1, cells, no])], inits)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])


def test_v5_decoder_on_real_onnx_head_graph(tmp_path) -> None:
    size, nc = 64, 3
    path = tmp_path / "yolov5_head.onnx"
    onnx.save(_v5_head_graph(size, nc), path)
    feeds = {f"p{s}": np.full((1, 3 * (5 + nc), size // s, size // s), -9.0, np.float32) for s in ANCHORS}
    # stride 8, anchor 1 (16x30), cell (gy=3, gx=5): tx=ty=tw=th=0 -> centre (g + 0.5) * 8, size = anchor
    p = feeds["p8"].reshape(1, 3, 5 + nc, 8, 8)
    p[0, 1, 0:4, 3, 5] = 0.0
    p[0, 1, 4, 3, 5] = 3.0  # objectness sigmoid(3)
    p[0, 1, 5 + 2, 3, 5] = 2.0  # class 2 sigmoid(2)
    # stride 32, anchor 0 (116x90), cell (gy=1, gx=0): sigmoid(tw)=0.75 -> w = (1.5)^2 * 116
    q = feeds["p32"].reshape(1, 3, 5 + nc, 2, 2)
    q[0, 0, 0:2, 1, 0] = 0.0
    q[0, 0, 2, 1, 0] = np.log(3.0)
    q[0, 0, 3, 1, 0] = 0.0
    q[0, 0, 4, 1, 0] = 4.0
    q[0, 0, 5 + 0, 1, 0] = 4.0
    (out,) = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"]).run(None, feeds)
    assert out.shape == (1, 3 * 84, 8)

    info = ModelInfo(input_shape=(1, 3, size, size), input_size=(size, size), layout="NCHW",
                     output_shapes=(out.shape,))
    entry = default_registry().choose(info)
    assert entry.name == "yolov5"
    raw = entry.build(info).decode([out], 0, 0.5)
    order = np.argsort(-raw.scores)
    sig = lambda v: 1 / (1 + np.exp(-v))  # noqa: E731
    w_big = (2 * 0.75) ** 2 * 116
    np.testing.assert_allclose(raw.xyxy[order], [[16 - w_big / 2, 48 - 45, 16 + w_big / 2, 48 + 45],
                                                 [44 - 8, 28 - 15, 44 + 8, 28 + 15]], rtol=1e-5)
    np.testing.assert_allclose(raw.scores[order], [sig(4.0) ** 2, sig(3.0) * sig(2.0)], rtol=1e-5)
    assert raw.class_ids[order].tolist() == [0, 2]
