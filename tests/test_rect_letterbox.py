"""The stride-aligned rectangular letterbox (``rect``) for models whose input height and width are dynamic: its
geometry, the exact mapping of boxes back to the image, a real ONNX model run on square and rect inputs, batches
of mixed camera sizes (one model call per input shape) and the muxed detector stage on them."""

from __future__ import annotations

import threading
from pathlib import Path

import cv2
import numpy as np
import pytest
from rsu_sdk import Detections, Frame, Product

from rsu.app.muxed_detector import MuxedDetectorStage
from rsu.app.perception import DetectorStage
from rsu.config.models import DetectorConfig
from rsu.inference.detector import Detector
from rsu.inference.preprocess import InputSpec, input_shape, letterbox, prepare_batch, rect_letterbox, rect_size
from support import wait_until

# -- geometry ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("image", "side", "want"), [
    ((768, 576), 640, (640, 480)),  # vtest.avi: a quarter fewer pixels than the square
    ((810, 1080), 640, (480, 640)),  # bus.jpg, portrait
    ((1920, 1080), 640, (640, 384)),  # 360 rounded up to 12 strides
    ((768, 576), 320, (320, 256)),  # 240 -> 256
    ((640, 640), 320, (320, 320)),
    ((100, 2000), 640, (32, 640)),  # a sliver keeps at least one stride
])
def test_rect_size_is_the_smallest_stride_aligned_rectangle(image: tuple[int, int], side: int,
                                                           want: tuple[int, int]) -> None:
    assert rect_size(image, side) == want
    w, h = want
    assert w % 32 == 0 and h % 32 == 0 and max(w, h) == side


def test_rect_letterbox_centres_the_image_and_maps_boxes_back_exactly() -> None:
    image = np.zeros((576, 768, 3), np.uint8)
    image[100:300, 200:500] = 255
    out, tf = rect_letterbox(image, 320)
    assert out.shape == (256, 320, 3)
    assert (tf.scale_x, tf.scale_y) == (320 / 768, 240 / 576) and (tf.pad_x, tf.pad_y) == (0.0, 8.0)
    assert (out[:8] == 114).all() and (out[-8:] == 114).all(), "padding split evenly above and below"
    box = np.array([[200, 100, 500, 300]], np.float32)  # image pixels -> model pixels -> back
    model = box * [tf.scale_x, tf.scale_y, tf.scale_x, tf.scale_y] + [tf.pad_x, tf.pad_y, tf.pad_x, tf.pad_y]
    np.testing.assert_allclose(tf.to_image(model), box, atol=1e-4)
    ys, xs = np.nonzero(out[:, :, 0] > 200)  # where the white patch landed in the model input
    assert abs(xs.min() - model[0, 0]) <= 1 and abs(ys.min() - model[0, 1]) <= 1
    assert abs(xs.max() + 1 - model[0, 2]) <= 1 and abs(ys.max() + 1 - model[0, 3]) <= 1


@pytest.mark.tools
@pytest.mark.parametrize("size", [(768, 576), (810, 1080), (1920, 1080), (333, 251)])
def test_rect_letterbox_matches_ultralytics_rect_letterbox(size: tuple[int, int]) -> None:
    pytest.importorskip("ultralytics")
    from ultralytics.data.augment import LetterBox

    rng = np.random.default_rng(0)
    image = rng.integers(0, 256, (size[1], size[0], 3), np.uint8)
    theirs = LetterBox((640, 640), auto=True, stride=32)(image=image)
    ours, _ = rect_letterbox(image, 640)
    assert ours.shape == theirs.shape
    np.testing.assert_array_equal(ours, theirs)


def test_prepare_batch_rect_needs_one_shape_and_names_the_image() -> None:
    spec = InputSpec(size=(640, 640), resize="rect")
    video, portrait = np.zeros((576, 768, 3), np.uint8), np.zeros((1080, 810, 3), np.uint8)
    batch, tfs = prepare_batch([video, video], spec)
    assert batch.shape == (2, 3, 480, 640) and len(tfs) == 2
    assert input_shape((768, 576), spec) == (640, 480) and input_shape((768, 576), InputSpec(size=(640, 640))) \
        == (640, 640)
    with pytest.raises(ValueError, match=r"image 1: its rect input is 480x640, image 0's 640x480"):
        prepare_batch([video, portrait], spec)
    with pytest.raises(ValueError, match="InputSpec.stride"):
        InputSpec(size=(640, 640), resize="rect", stride=0)
    square, _ = letterbox(video, (640, 640))
    assert square.shape == (640, 640, 3)


# -- a real ONNX model: finds the white rectangle in its input (exact, so both paths must agree) ---------


def _white_box_model(path: Path, dynamic: bool, imgsz: int = 320) -> Path:
    """An ONNX 'detector' with a YOLOv8 head layout (``[B, 4 + 1, 8]``): the bounding box, in input pixels, of
    the pixels whose first channel is above 0.8 (score 1), repeated over 8 cells."""
    import onnx
    from onnx import TensorProto, helper

    h, w = ("height", "width") if dynamic else (imgsz, imgsz)
    f32 = TensorProto.FLOAT
    c = helper.make_tensor
    nodes = [
        helper.make_node("Slice", ["images", "c0s", "c0e", "c_ax"], ["ch0"]),
        helper.make_node("Greater", ["ch0", "thr"], ["hit"]),
        helper.make_node("Cast", ["hit"], ["mask"], to=f32),
        helper.make_node("ReduceMax", ["mask", "ax_hw_rows"], ["cols"], keepdims=0),  # [B, W]
        helper.make_node("ReduceMax", ["mask", "ax_hw_cols"], ["rows"], keepdims=0),  # [B, H]
        helper.make_node("ArgMax", ["cols"], ["x1i"], axis=1, keepdims=1),
        helper.make_node("ArgMax", ["cols"], ["x2i"], axis=1, keepdims=1, select_last_index=1),
        helper.make_node("ArgMax", ["rows"], ["y1i"], axis=1, keepdims=1),
        helper.make_node("ArgMax", ["rows"], ["y2i"], axis=1, keepdims=1, select_last_index=1),
        *[helper.make_node("Cast", [f"{n}i"], [n], to=f32) for n in ("x1", "x2", "y1", "y2")],
        helper.make_node("Add", ["x2", "one"], ["x2e"]),
        helper.make_node("Add", ["y2", "one"], ["y2e"]),
        helper.make_node("Add", ["x1", "x2e"], ["sx"]), helper.make_node("Mul", ["sx", "half"], ["cx"]),
        helper.make_node("Add", ["y1", "y2e"], ["sy"]), helper.make_node("Mul", ["sy", "half"], ["cy"]),
        helper.make_node("Sub", ["x2e", "x1"], ["bw"]), helper.make_node("Sub", ["y2e", "y1"], ["bh"]),
        helper.make_node("ReduceMax", ["cols", "ax1"], ["score1"], keepdims=1),
        helper.make_node("Concat", ["cx", "cy", "bw", "bh", "score1"], ["row"], axis=1),  # [B, 5]
        helper.make_node("Unsqueeze", ["row", "ax2"], ["col"]),  # [B, 5, 1]
        helper.make_node("Tile", ["col", "reps"], ["output0"]),  # [B, 5, 8]
    ]
    inits = [c("c0s", TensorProto.INT64, [1], [0]), c("c0e", TensorProto.INT64, [1], [1]),
             c("c_ax", TensorProto.INT64, [1], [1]), c("thr", f32, [], [0.8]),
             c("ax_hw_rows", TensorProto.INT64, [2], [1, 2]), c("ax_hw_cols", TensorProto.INT64, [2], [1, 3]),
             c("one", f32, [], [1.0]), c("half", f32, [], [0.5]), c("ax1", TensorProto.INT64, [1], [1]),
             c("ax2", TensorProto.INT64, [1], [2]), c("reps", TensorProto.INT64, [3], [1, 1, 8])]
    graph = helper.make_graph(nodes, "white-box", [helper.make_tensor_value_info("images", f32, ["batch", 3, h, w])],
                              [helper.make_tensor_value_info("output0", f32, ["batch", 5, 8])], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)])
    for key, value in {"names": "{0: 'box'}", "stride": "32",
                       "imgsz": f"[{imgsz}, {imgsz}]"}.items():
        model.metadata_props.add(key=key, value=value)
    onnx.checker.check_model(model)
    onnx.save(model, str(path))
    return path


def _scene(size: tuple[int, int], box: tuple[int, int, int, int]) -> np.ndarray:
    image = np.full((size[1], size[0], 3), 40, np.uint8)
    x1, y1, x2, y2 = box
    image[y1:y2, x1:x2] = 255
    return image


SCENES = {"video": ((768, 576), (300, 120, 520, 400)), "portrait": ((810, 1080), (60, 500, 400, 1000)),
          "wide": ((1920, 1080), (1500, 40, 1900, 700))}


@pytest.fixture(scope="module")
def models(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("white-box")
    return {"dynamic": _white_box_model(folder / "dynamic.onnx", True),
            "fixed": _white_box_model(folder / "fixed.onnx", False)}


def _detector(path: Path, **kw: object) -> Detector:
    opts: dict[str, object] = {"kind": "yolov8", "providers": ["cpu"], "threads": 1, "conf_threshold": 0.5, **kw}
    return Detector.from_config(DetectorConfig(model=str(path), **opts))


def test_auto_picks_rect_for_a_dynamic_model_and_keeps_the_square_for_a_fixed_one(models: dict[str, Path]) -> None:
    rect = _detector(models["dynamic"])
    assert rect.spec.resize == "rect" and rect.spec.size == (320, 320) and rect.spec.stride == 32  # metadata imgsz
    assert _detector(models["dynamic"], resize="letterbox").spec.resize == "letterbox"
    assert _detector(models["dynamic"], input_size=640).spec.size == (640, 640)
    assert _detector(models["fixed"]).spec.resize == "letterbox"


@pytest.mark.parametrize("scene", sorted(SCENES))
def test_rect_and_square_find_the_same_box_in_image_pixels(models: dict[str, Path], scene: str) -> None:
    size, box = SCENES[scene]
    image = _scene(size, box)
    got = {}
    for name, det in {"rect": _detector(models["dynamic"]), "square": _detector(models["dynamic"], resize="letterbox"),
                      "fixed": _detector(models["fixed"])}.items():
        d = det.detect_image(image)
        assert len(d) == 1 and d.class_names[d.class_id[0]] == "box", name
        got[name] = d.xyxy[0]
        # one model pixel is 1/scale image pixels: the box is found to within that
        np.testing.assert_allclose(d.xyxy[0], box, atol=max(size) / 320 + 0.5, err_msg=name)
    np.testing.assert_allclose(got["rect"], got["square"], atol=max(size) / 320 + 0.5)
    np.testing.assert_allclose(got["square"], got["fixed"], atol=1e-4)


class _CountingBackend:
    """The detector's backend, recording each call's input shape."""

    def __init__(self, inner: object) -> None:
        self.inner = inner
        self.shapes: list[tuple[int, ...]] = []

    def __getattr__(self, name: str) -> object:
        return getattr(self.inner, name)

    def run(self, batch: np.ndarray) -> list[np.ndarray]:
        self.shapes.append(batch.shape)
        return self.inner.run(batch)  # type: ignore[attr-defined]


def _cameras() -> list[np.ndarray]:
    (vs, vb), (ps, pb), (ws, wb) = SCENES["video"], SCENES["portrait"], SCENES["wide"]
    return [_scene(vs, vb), _scene(ps, pb), _scene(vs, (10, 10, 200, 300)), _scene(ws, wb), _scene(ps, (0, 0, 810, 90))]


def test_a_batch_of_mixed_camera_sizes_runs_one_call_per_shape_with_results_of_single_calls(
        models: dict[str, Path]) -> None:
    det = _detector(models["dynamic"], batch=8)
    counting = _CountingBackend(det.backend)
    det.backend = counting  # type: ignore[assignment]
    frames = [Frame(source=f"cam-{i}", t_event_ns=i, frame_id=i, image=im) for i, im in enumerate(_cameras())]
    alone = [det.detect([f])[0] for f in frames]
    counting.shapes.clear()
    together = det.detect(frames)
    assert sorted(counting.shapes) == [(1, 3, 192, 320), (2, 3, 256, 320), (2, 3, 320, 256)]
    assert [d.source for d in together] == [f.source for f in frames]
    assert together == alone
    assert [d.source for d in det.detect_stream(iter(frames))] == [f.source for f in frames]
    assert list(det.detect_stream(iter(frames))) == alone


def test_the_muxed_stage_batches_mixed_camera_sizes_like_single_calls(models: dict[str, Path]) -> None:
    det = _detector(models["dynamic"], batch=5)
    frames = [Frame(source=f"cam-{i}", t_event_ns=1, frame_id=0, image=im) for i, im in enumerate(_cameras())]
    alone = [det.detect([f])[0] for f in frames]
    emitted: list[Product] = []
    lock = threading.Lock()

    def emit(p: Product) -> None:
        with lock:
            emitted.append(p)

    plain = DetectorStage(det)
    stage = MuxedDetectorStage(plain, plain, window_ms=60_000, max_batch=5, emit=emit,
                               cameras=[f.source for f in frames])
    stage.open()
    try:
        for f in frames:
            assert stage.process(f) == []
        wait_until(lambda: len(emitted) == len(frames), 60, "the batch's detections")
    finally:
        stage.close()
    by_source = {d.source: d for d in emitted if isinstance(d, Detections)}
    assert [by_source[f.source] for f in frames] == alone
    assert stage.stats()["batching"]["batch_sizes"] == {"5": 1}


def test_vtest_frames_through_rect_match_the_square_path(models: dict[str, Path]) -> None:
    from rsu.assetfetch.fetch import fetch_all
    from rsu.assets.paths import assets_dir
    from rsu.modeltools.frames import load_frames

    frame = load_frames([fetch_all(assets_dir()) / "data" / "vtest.avi"], limit=1)[0]
    frame = np.minimum(frame, 200)  # nothing of the scene above the model's threshold ...
    frame[200:330, 100:260] = 255  # ... but a white patch on it
    rect, square = _detector(models["dynamic"]), _detector(models["dynamic"], resize="letterbox")
    a, b = rect.detect_image(frame), square.detect_image(frame)
    assert len(a) == len(b) == 1
    np.testing.assert_allclose(a.xyxy[0], [100, 200, 260, 330], atol=768 / 320 + 0.5)
    np.testing.assert_allclose(a.xyxy[0], b.xyxy[0], atol=768 / 320 + 0.5)


# -- the distilled student (a trained model): rect against the committed square export ----------------------


def _iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    lo, hi = np.maximum(a[:, None, :2], b[None, :, :2]), np.minimum(a[:, None, 2:], b[None, :, 2:])
    inter = np.prod(np.clip(hi - lo, 0, None), axis=2)
    area_a, area_b = np.prod(a[:, 2:] - a[:, :2], axis=1), np.prod(b[:, 2:] - b[:, :2], axis=1)
    return inter / (area_a[:, None] + area_b[None] - inter)


@pytest.mark.tools
def test_the_student_finds_the_same_objects_through_rect_as_through_the_square() -> None:
    """The distilled student (its dynamic-shape export) on held-out vtest.avi frames and bus.jpg, letterboxed to
    the rectangle and to the square: the same objects and classes, boxes within half a model pixel (median)."""
    from rsu.assetfetch.fetch import fetch_all
    from rsu.assets.paths import assets_dir
    from rsu.bench.bench_models import student_models
    from rsu.modeltools.frames import load_frames

    found, why = student_models(lambda _msg: None)
    if not found:
        pytest.skip(why or "no dynamic-shape student here")
    model = found.get("fp32") or found["int8"]  # the installed student is INT8 only; a distill run has both
    path = model.path
    rect, square = _detector(path, conf_threshold=0.35), _detector(path, conf_threshold=0.35, resize="letterbox")
    assert rect.spec.resize == "rect" and square.spec.resize == "letterbox"
    assert rect.spec.size == square.spec.size == (model.imgsz,) * 2
    data = fetch_all(assets_dir()) / "data"
    frames = load_frames([data / "vtest.avi"], limit=795)
    images = {f"vtest {i}": frames[i] for i in (650, 700, 750, 790)}  # the held-out end of the video
    images["bus.jpg"] = cv2.imread(str(data / "bus.jpg"))  # a scene the student never saw
    for name, image in images.items():
        a, b = rect.detect_image(image), square.detect_image(image)
        assert len(a) > 0 and abs(len(a) - len(b)) <= 1, name
        strong = a.confidence >= 0.5
        iou = _iou(a.xyxy[strong], b.xyxy)
        if name == "bus.jpg":  # a scene the student never saw: its borderline boxes may flip with the padding
            assert (iou.max(axis=1) > 0.7).mean() >= 0.75, f"{name}: confident boxes without their twins"
            strong[np.flatnonzero(strong)[iou.max(axis=1) <= 0.7]] = False
            iou = _iou(a.xyxy[strong], b.xyxy)
        assert (iou.max(axis=1) > 0.7).all(), f"{name}: a confident box without its twin"
        twin = iou.argmax(axis=1)
        assert (a.class_id[strong] == b.class_id[twin]).all(), name
        d = np.abs(a.xyxy[strong] - b.xyxy[twin]).max(axis=1)
        per_model_pixel = max(image.shape[:2]) / rect.spec.size[0]
        # within half a model pixel (median) and three at most: INT8 adds its rounding to the two paths
        if name != "bus.jpg":  # boxes of a scene it never saw move with the padding; only their classes are kept
            assert np.median(d) <= 0.5 * per_model_pixel and d.max() <= 3 * per_model_pixel, (name, d)
