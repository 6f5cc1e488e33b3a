"""``rsu eval detector``: COCO mAP of a detector against teacher labels (rsu-teacher-labels/1), the mirrored
teacher's ceiling, and clear errors on bad inputs.

The labels are made here by the real teacher (NanoDet-m) on frames 0-11 of vtest.avi (frames 5-11 held out),
so scoring the teacher itself against them must be perfect, and each perturbation has a value derived below.
"""

from __future__ import annotations

import copy
import json
import math
from pathlib import Path
from typing import Any

import cv2
import pytest
from click.testing import CliRunner

from rsu.assetfetch.fetch import fetch_all
from rsu.assets.paths import assets_dir
from rsu.cli import main
from rsu.config.models import DetectorConfig
from rsu.core.digest import sha256_file
from rsu.eval.detector import evaluate_detector
from rsu.inference.detector import Detector

CLASSES = ["person", "bicycle", "car", "motorcycle", "bus", "truck"]
SPLIT = {"train": [0, 4], "gap": [4, 5], "held_out": [5, 12]}


@pytest.fixture(scope="module")
def labels() -> dict[str, Any]:
    """Teacher labels in the contract's format, boxes as the teacher reports them at its threshold 0.35."""
    video = fetch_all(assets_dir()) / "data" / "vtest.avi"
    teacher = Detector.from_config(DetectorConfig(model="nanodet-m", classes=CLASSES, allow_spinning=False))
    cap = cv2.VideoCapture(str(video))
    frames = []
    for index in range(SPLIT["held_out"][1]):
        ok, image = cap.read()
        assert ok
        part = next(name for name, (a, b) in SPLIT.items() if a <= index < b)
        if part == "gap":
            continue
        d = teacher.detect_image(image)
        frames.append({"index": index, "split": part, "boxes": [
            [*map(float, box), name, float(score)] for box, name, score in zip(d.xyxy, d.labels, d.confidence)]})
    cap.release()
    return {"format": "rsu-teacher-labels/1", "video": str(video), "video_sha256": sha256_file(video),
            "frames_total": 795, "width": 768, "height": 576,
            "teacher": {"model": "nanodet-m", "conf": 0.35, "flip_tta": False, "extra": []},
            "classes": CLASSES, "split": SPLIT, "frames": frames}


def _write(tmp_path: Path, doc: dict[str, Any], name: str = "labels.json") -> Path:
    path = tmp_path / name
    path.write_text(json.dumps(doc))
    return path


def _held_out(doc: dict[str, Any]) -> list[dict[str, Any]]:
    return [f for f in doc["frames"] if f["split"] == "held_out"]


def _classes_with_boxes(doc: dict[str, Any]) -> set[str]:
    return {b[4] for f in _held_out(doc) for b in f["boxes"]}


def test_the_teacher_scores_perfectly_against_its_own_labels(labels: dict[str, Any], tmp_path: Path) -> None:
    assert sum(len(f["boxes"]) for f in _held_out(labels)) >= 10  # people on the paths, the parked van
    result = evaluate_detector(_write(tmp_path, labels), {"fp32": "nanodet-m"})
    assert result["frames"] == 7 and result["split"] == "held_out" and result["classes"] == CLASSES
    assert result["fp32"]["map50"] > 0.95 and result["fp32"]["map50_95"] > 0.95
    assert set(result["fp32"]["per_class_ap50"]) == _classes_with_boxes(labels)
    # mirrored frames with the boxes mapped back agree closely; boxes left unmirrored would score about 0
    assert 0.8 < result["ceiling_map50"] <= 1.0
    assert result["fp32"]["ms_per_frame"] > 0 and result["teacher_ms_per_frame"] > 0
    assert result["ratios"]["fp32_of_ceiling"] == pytest.approx(result["fp32"]["map50"] / result["ceiling_map50"],
                                                                abs=1e-3)


def test_removing_the_best_scored_half_of_the_people_gives_the_derived_map50(labels: dict[str, Any],
                                                                              tmp_path: Path) -> None:
    """n person boxes, the k = n // 2 best-scored removed: the teacher's k best person detections now rank
    first as false positives, then its n - k true ones; precision at every recall level is (n - k) / n,
    so AP50(person) = (n - k) / n while every other class keeps AP 1."""
    doc = copy.deepcopy(labels)
    people = sorted(((b[5], id(b)) for f in _held_out(doc) for b in f["boxes"] if b[4] == "person"), reverse=True)
    n = len(people)
    k = n // 2
    removed = {key for _, key in people[:k]}
    for f in _held_out(doc):
        f["boxes"] = [b for b in f["boxes"] if id(b) not in removed]
    result = evaluate_detector(_write(tmp_path, doc), {"fp32": "nanodet-m"}, ceiling=False)
    others = len(_classes_with_boxes(doc)) - 1
    assert result["fp32"]["per_class_ap50"]["person"] == pytest.approx((n - k) / n, abs=1e-3)
    assert result["fp32"]["map50"] == pytest.approx((others + (n - k) / n) / (others + 1), abs=1e-3)
    assert result["ceiling_map50"] is None and result["teacher_ms_per_frame"] is None


def test_shrunken_boxes_keep_map50_and_lose_the_strict_thresholds(labels: dict[str, Any], tmp_path: Path) -> None:
    """Every truth box shrunk about its centre to 0.62 of its area: the teacher's own box overlaps it at
    IoU 0.62, a match at the IoU thresholds 0.50, 0.55, 0.60 and a miss at the seven stricter ones, so
    mAP50 stays 1 and mAP50-95 falls to about 3/10 (stray low-score boxes may add a little)."""
    doc = copy.deepcopy(labels)
    s = math.sqrt(0.62)
    for f in doc["frames"]:
        for b in f["boxes"]:
            cx, cy, w, h = (b[0] + b[2]) / 2, (b[1] + b[3]) / 2, (b[2] - b[0]) * s, (b[3] - b[1]) * s
            b[:4] = [cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2]
    result = evaluate_detector(_write(tmp_path, doc), {"fp32": "nanodet-m"}, ceiling=False)
    assert result["fp32"]["map50"] > 0.95
    assert 0.29 < result["fp32"]["map50_95"] < 0.36


def _cli(*args: str) -> Any:
    return CliRunner().invoke(main, ["eval", "detector", *args])


def test_cli_json_has_the_contract_keys(labels: dict[str, Any], tmp_path: Path) -> None:
    res = _cli("--model", "nanodet-m", "--int8", "nanodet-m", "--truth", str(_write(tmp_path, labels)), "--json")
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout)
    for name in ("fp32", "int8"):
        assert {"map50", "map50_95", "ms_per_frame", "model"} <= set(out[name])
        assert out[name]["map50"] > 0.95
    assert out["ceiling_map50"] > 0.8 and out["teacher_ms_per_frame"] > 0
    assert {"fp32_of_ceiling", "int8_minus_fp32_map50", "int8_speedup_vs_teacher"} <= set(out["ratios"])
    assert out["ratios"]["int8_minus_fp32_map50"] == 0.0  # the same model twice
    assert "eval detector: frame 7/7" in res.stderr


def test_cli_takes_both_models_and_the_labels_from_a_distill_folder(labels: dict[str, Any], tmp_path: Path) -> None:
    model = str(Detector.from_config(DetectorConfig(model="nanodet-m")).backend.path)
    _write(tmp_path, labels)
    record = {"models": {"fp32": {"path": model}, "int8": {"path": model}}, "data": {"labels": "labels.json"}}
    _write(tmp_path, record, "record.json")
    res = _cli("--model", str(tmp_path), "--no-ceiling")
    assert res.exit_code == 0, res.output
    lines = res.stdout.splitlines()
    assert "7 frames" in lines[0]
    assert any(line.strip().startswith("fp32: mAP50 1.0") for line in lines)
    assert any(line.strip().startswith("int8: mAP50 1.0") for line in lines)


def _bad_class(doc: dict[str, Any]) -> None:
    doc["frames"][-1]["boxes"].append([10, 10, 50, 80, "zebra", 0.9])


def _no_video(doc: dict[str, Any]) -> None:
    doc["video"] = str(Path(doc["video"]).with_name("no-such-video.avi"))


def _other_video(doc: dict[str, Any]) -> None:
    doc["video_sha256"] = "0" * 64


def _bad_format(doc: dict[str, Any]) -> None:
    doc["format"] = "coco"


def _bad_box(doc: dict[str, Any]) -> None:
    doc["frames"][0]["boxes"].append([10, 10, "x", 80, "person", 0.9])


@pytest.mark.parametrize("perturb, args, message", [
    (_bad_class, [], "frames[10].boxes[7]: unknown class 'zebra'"),
    (_no_video, [], "no-such-video.avi not found"),
    (_other_video, [], ".video_sha256: "),
    (_bad_format, [], ".format: expected 'rsu-teacher-labels/1', got 'coco'"),
    (_bad_box, [], "frames[0].boxes["),
    (None, ["--split", "validation"], ".split: no split 'validation'"),
    (None, ["--model", "ssd-mobilenetv2"], "classes do not cover the labels' (missing person, bicycle, car"),
    (None, ["--model", "no-such-model.onnx"], "model file not found: no-such-model.onnx"),
])
def test_bad_inputs_exit_2_naming_the_problem(labels: dict[str, Any], tmp_path: Path, perturb: Any,
                                              args: list[str], message: str) -> None:
    doc = copy.deepcopy(labels)
    if perturb is not None:
        perturb(doc)
    if perturb is _bad_class:
        message = message.replace("boxes[7]", f"boxes[{len(doc['frames'][-1]['boxes']) - 1}]")
    res = _cli("--model", "nanodet-m", "--truth", str(_write(tmp_path, doc)), "--no-ceiling", *args)
    assert res.exit_code == 2, res.output
    assert message in res.stderr
    assert "Traceback" not in res.output


@pytest.mark.parametrize("content, message", [(None, "no such file"), ("{not json", "not a readable JSON")])
def test_an_unreadable_label_file_exits_2(tmp_path: Path, content: str | None, message: str) -> None:
    path = tmp_path / "labels.json"
    if content is not None:
        path.write_text(content)
    res = _cli("--model", "nanodet-m", "--truth", str(path))
    assert res.exit_code == 2 and message in res.stderr


def test_a_committed_record_finds_the_models_beside_it(tmp_path: Path) -> None:
    """``NAME.record.json`` whose recorded paths are gone (built elsewhere) finds ``NAME-int8.onnx`` beside it."""
    from rsu.eval.detector import TruthError, models_from_record

    (tmp_path / "yolov5s-vtest-int8.onnx").write_bytes(b"")
    record = tmp_path / "yolov5s-vtest.record.json"
    record.write_text(json.dumps({"models": {"int8": {"path": "/elsewhere/student_int8.onnx"}},
                                  "data": {"labels": "labels.json"}}))
    assert models_from_record(record) == ({"int8": tmp_path / "yolov5s-vtest-int8.onnx"}, None)
    (tmp_path / "yolov5s-vtest-int8.onnx").unlink()
    with pytest.raises(TruthError, match="no model file found"):
        models_from_record(record)
