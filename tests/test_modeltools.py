"""The model toolchain: prune, export, quantize, info (``rsu model ...``).

Tests marked ``tools`` need the tools extra (torch, ultralytics, torch-pruning) and are skipped without it.
The models are the YOLOv5s(u) architecture with random weights made input-dependent (no trained weights can
be had here): the checks are structure, parameter counts, output shapes, decoders and INT8-vs-FP32 agreement,
not accuracy. One model set is built per session (about 15 s on 2 cores).
"""

from __future__ import annotations

import json
import shutil
import sys

import cv2
import numpy as np
import onnx
import pytest
from click.testing import CliRunner
from onnx import TensorProto, helper, numpy_helper

from rsu.cli import main
from rsu.modeltools.env import TOOLS_HINT, ToolsMissingError, have_tools, require
from rsu.modeltools.info import onnx_info

needs_tools = pytest.mark.skipif(not have_tools(), reason=f"tools extra not installed ({TOOLS_HINT})")


def test_missing_module_names_the_tools_extra() -> None:
    with pytest.raises(ToolsMissingError, match=r"rsu\[tools\]") as err:
        require("rsu_no_such_module")
    assert err.value.name == "rsu_no_such_module"


def test_cli_prune_without_tools_says_which_extra(monkeypatch, tmp_path) -> None:
    monkeypatch.setitem(sys.modules, "ultralytics", None)  # an import of it now fails like a missing package
    monkeypatch.setitem(sys.modules, "torch", None)
    result = CliRunner().invoke(main, ["model", "prune", "yolov5su.yaml", "-o", str(tmp_path / "p.pt")])
    assert result.exit_code == 1
    assert "rsu[tools]" in result.output and "'torch' is not installed" in result.output


def _tiny_conv(path) -> None:
    w = numpy_helper.from_array(np.ones((8, 3, 3, 3), np.float32), "w")
    b = numpy_helper.from_array(np.zeros(8, np.float32), "b")
    shape = numpy_helper.from_array(np.array([1, 8, -1]), "shape")
    graph = helper.make_graph(
        [helper.make_node("Conv", ["images", "w", "b"], ["c"]), helper.make_node("Reshape", ["c", "shape"], ["out"])],
        "tiny", [helper.make_tensor_value_info("images", TensorProto.FLOAT, [1, 3, 32, 32])],
        [helper.make_tensor_value_info("out", TensorProto.FLOAT, [1, 8, 900])], [w, b, shape])
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), path)


def test_info_on_onnx_without_torch(tmp_path) -> None:
    path = tmp_path / "tiny.onnx"
    _tiny_conv(path)
    info = onnx_info(path)
    assert info["params"] == 8 * 3 * 3 * 3 + 8  # the Reshape's shape constant is not a weight
    assert info["gflops"] == round(2 * 8 * 30 * 30 * 27 / 1e9, 3)
    assert info["opset"] == 17 and info["quantized"] is False
    assert info["inputs"] == [{"name": "images", "shape": [1, 3, 32, 32], "dtype": "float32"}]
    assert info["outputs"][0]["shape"] == [1, 8, 900]
    result = CliRunner().invoke(main, ["model", "info", str(path), "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["params"] == 224
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"not a model")
    result = CliRunner().invoke(main, ["model", "info", str(bad)])
    assert result.exit_code == 1 and "not a readable ONNX model" in result.output


# --- with the tools extra ---------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def model_set(tmp_path_factory):
    if not have_tools():
        pytest.skip(f"tools extra not installed ({TOOLS_HINT})")
    import os

    if "YOLO_CONFIG_DIR" not in os.environ:  # ultralytics' settings file goes to tmp, not the user's cache
        os.environ["YOLO_CONFIG_DIR"] = str(tmp_path_factory.mktemp("ultralytics-settings"))
    from rsu.modeltools.zoo import build_detector_set

    return build_detector_set(tmp_path_factory.mktemp("yolo"), imgsz=640)


@pytest.fixture(scope="session")
def frames(model_set):
    from rsu.modeltools.frames import bundled_images

    return [cv2.imread(str(p)) for p in bundled_images()]


def _path(model_set, key):
    from pathlib import Path

    return Path(model_set["folder"]) / model_set[key]


@pytest.mark.tools
@needs_tools
def test_prune_removes_70pct_of_params_and_reloads(model_set) -> None:
    import torch

    from rsu.modeltools.prune import count_params, load_model

    assert model_set["params_full"] == 9_153_152  # ultralytics yolov5su.yaml
    assert model_set["params_pruned"] <= 0.30 * model_set["params_full"]
    assert model_set["gmacs_pruned"] < 0.4 * model_set["gmacs_full"]
    net = load_model(_path(model_set, "pruned_pt")).model.eval()
    assert count_params(net) == model_set["params_pruned"]
    x = torch.rand(1, 3, 320, 320)
    with torch.no_grad():
        y = net(x)
    assert tuple(y[0].shape) == (1, 84, 2100)


@pytest.mark.tools
@needs_tools
def test_export_shapes_and_onnx_matches_torch(model_set, frames) -> None:
    import onnxruntime as ort
    import torch

    from rsu.inference.preprocess import InputSpec, prepare_batch
    from rsu.modeltools.prune import load_model

    for key in ("fp32", "pruned_fp32"):
        info = onnx_info(_path(model_set, key))
        assert info["outputs"][0]["shape"] == [1, 84, 8400] and info["inputs"][0]["shape"] == [1, 3, 640, 640]
        assert info["decoder"] == "yolov8" and info["opset"] >= 11
    assert onnx_info(_path(model_set, "pruned_fp32"))["params"] < 0.3 * onnx_info(_path(model_set, "fp32"))["params"]
    batch, _ = prepare_batch(frames[:1], InputSpec(size=(640, 640)))
    (onnx_out,) = ort.InferenceSession(str(_path(model_set, "pruned_fp32")), providers=["CPUExecutionProvider"]
                                       ).run(None, {"images": batch})
    with torch.no_grad():
        torch_out = load_model(_path(model_set, "pruned_pt")).model.eval()(torch.from_numpy(batch))[0].numpy()
    np.testing.assert_allclose(onnx_out, torch_out, rtol=1e-3, atol=1e-2)
    assert onnx_out[0, 4:].std() > 0  # the synthetic weights make the output depend on the image


@pytest.mark.tools
@needs_tools
def test_int8_is_qdq_and_keeps_fp32_top_boxes(model_set) -> None:
    from rsu.inference.preprocess import InputSpec
    from rsu.modeltools.compare import compare_models
    from rsu.modeltools.frames import bundled_images
    from rsu.modeltools.quantize import calibration_batches

    info = onnx_info(_path(model_set, "pruned_int8"))
    assert info["quantized"] and info["qdq_nodes"] > 100 and info["top_ops"]["DequantizeLinear"] > 70
    assert model_set["int8_excluded_nodes"] > 0
    batches = calibration_batches(bundled_images(), InputSpec(size=(640, 640)))
    cmp = compare_models(_path(model_set, "pruned_fp32"), _path(model_set, "pruned_int8"), batches)
    assert cmp.ref_detections > 0 and cmp.new_detections > 0
    assert cmp.top_kept >= 0.5, cmp
    assert cmp.score_corr > 0.5 and cmp.box_mean_abs_diff_px < 20, cmp


@pytest.mark.tools
@needs_tools
def test_int8_weights_are_7_bit_so_avx2_kernels_cannot_saturate(model_set) -> None:
    """x86 without VNNI adds u8*s8 pairs into a saturating int16 (VPMADDUBSW): 255*127*2 overflows, 255*64*2
    does not. Every quantized weight must lie in [-64, 64] (``reduce_range``), whatever CPU built the model."""
    model = onnx.load(str(_path(model_set, "pruned_int8")))
    inits = {i.name: i for i in model.graph.initializer}
    weights = [numpy_helper.to_array(inits[n.input[0]]) for n in model.graph.node
               if n.op_type == "DequantizeLinear" and n.input[0] in inits
               and inits[n.input[0]].data_type == TensorProto.INT8 and len(inits[n.input[0]].dims) == 4]
    assert len(weights) > 20  # the convolutions' weights
    low, high = min(int(w.min()) for w in weights), max(int(w.max()) for w in weights)
    assert -64 <= low and high <= 64, (low, high)
    assert high - low >= 100  # 7 bits used, not fewer


@pytest.mark.tools
@needs_tools
def test_whole_graph_int8_destroys_scores(model_set, tmp_path) -> None:
    """Why the head's post-processing is excluded: one uint8 scale for boxes (0-640) and scores (0-1)."""
    from rsu.inference.preprocess import InputSpec
    from rsu.modeltools.compare import compare_models
    from rsu.modeltools.frames import bundled_images
    from rsu.modeltools.quantize import calibration_batches, quantize_batches

    batches = calibration_batches(bundled_images(), InputSpec(size=(640, 640)))
    excluded, qdq = quantize_batches(_path(model_set, "pruned_fp32"), tmp_path / "whole.onnx", batches,
                                     exclude_head=False)
    assert excluded == 0 and qdq > 0
    cmp = compare_models(_path(model_set, "pruned_fp32"), tmp_path / "whole.onnx", batches)
    assert cmp.ref_detections > 0 and cmp.new_detections == 0


@pytest.mark.tools
@needs_tools
def test_rsu_detector_matches_ultralytics_predictor(model_set, frames) -> None:
    """Same ONNX, same frame: rsu's letterbox + yolov8 decoder + NMS give ultralytics' boxes."""
    from rsu.config.models import DetectorConfig
    from rsu.inference.detector import Detector
    from rsu.inference.nms import box_iou
    from rsu.modeltools.env import import_ultralytics

    path = _path(model_set, "pruned_fp32")
    det = Detector.from_config(DetectorConfig(model=str(path), providers=["cpu"], conf_threshold=0.25,
                                              iou_threshold=0.45))
    assert det.entry.name == "yolov8"
    ours = det.detect_image(frames[0])
    theirs = import_ultralytics().YOLO(str(path), task="detect").predict(
        frames[0], imgsz=640, conf=0.25, iou=0.45, device="cpu", verbose=False)[0].boxes
    assert len(ours.xyxy) > 0
    assert abs(len(ours.xyxy) - len(theirs)) <= max(2, len(theirs) // 10)
    iou = box_iou(ours.xyxy, theirs.xyxy.numpy())
    best = iou.argmax(axis=1)
    matched = (iou.max(axis=1) > 0.9) & (ours.class_id == theirs.cls.numpy().astype(int)[best])
    assert matched.mean() >= 0.9
    np.testing.assert_allclose(ours.confidence[matched], theirs.conf.numpy()[best[matched]], atol=1e-3)


@pytest.mark.tools
@needs_tools
def test_cli_prune_export_quantize_info(tmp_path, model_set) -> None:
    from rsu.modeltools.frames import bundled_images

    calib = tmp_path / "calib"
    calib.mkdir()
    for p in bundled_images():
        shutil.copy(p, calib / p.name)
    runner = CliRunner()
    pt, onnx_path, q = tmp_path / "p.pt", tmp_path / "p.onnx", tmp_path / "q.onnx"
    res = runner.invoke(main, ["model", "prune", "yolov5su.yaml", "-o", str(pt), "--imgsz", "320", "--synthetic",
                               "--calib", str(calib), "--json"])
    assert res.exit_code == 0, res.output
    data = json.loads(res.output.strip().splitlines()[-1])
    assert data["param_reduction"] >= 0.70 and pt.is_file()
    res = runner.invoke(main, ["model", "export", str(pt), "-o", str(onnx_path), "--imgsz", "320", "--json"])
    assert res.exit_code == 0, res.output
    assert json.loads(res.output.strip().splitlines()[-1])["outputs"][0]["shape"] == [1, 84, 2100]
    res = runner.invoke(main, ["model", "quantize", str(onnx_path), "-o", str(q), "--calib", str(calib)])
    assert res.exit_code == 0, res.output
    assert "static INT8 QDQ" in res.output and "scores moved" in res.output
    res = runner.invoke(main, ["model", "info", str(q)])
    assert res.exit_code == 0 and "INT8     yes" in res.output and "[1, 84, 2100]" in res.output
    res = runner.invoke(main, ["model", "info", str(pt), "--imgsz", "320", "--json"])
    assert res.exit_code == 0, res.output
    assert json.loads(res.output.strip().splitlines()[-1])["params"] == data["params_after"]
    res = runner.invoke(main, ["model", "export", str(tmp_path / "missing.pt"), "-o", str(onnx_path)])
    assert res.exit_code == 1 and "not found" in res.output


@pytest.mark.tools
@needs_tools
def test_bench_detector_quick_reports_design_keys(model_set, tmp_path, monkeypatch) -> None:
    from rsu.bench import detector

    shutil.copytree(model_set["folder"], tmp_path / "bench" / "detector")  # reuse the session's model set
    monkeypatch.setenv("RSU_CACHE_DIR", str(tmp_path))
    result = detector.run(quick=True)
    for key in ("raw_ms", "step_ms", "step_over_raw", "ultralytics_ms", "speedup_vs_ultralytics", "yolov5s_params",
                "pruned_params", "yolov5s_fp32_ms", "yolov5s_pruned_int8_ms", "pruned_int8_speedup"):
        assert result[key] is not None, key
    assert result["yolov5s_params"] == 9_153_152 and result["pruned_params"] == model_set["params_pruned"]
    assert result["step_over_raw"] == pytest.approx(result["step_ms"] / result["raw_ms"], rel=1e-3)
    assert result["detections_per_frame"] > 0
    json.dumps(result)
