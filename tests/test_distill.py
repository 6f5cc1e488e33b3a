"""``rsu model distill`` end to end at toy scale: the first 30 frames of vtest.avi, the teacher (NanoDet-m)
labels them, a pruned YOLOv5s trains one epoch at 160 px, is exported, quantized and evaluated.

Run through the real command line in a subprocess (the ultralytics trainer changes process-wide state).
The chain runs once per module; the resume tests then work on copies of its folder.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from rsu.cli import main
from rsu.core.digest import sha256_file
from rsu.modeltools.distill import STEPS
from rsu.modeltools.distill_labels import FORMAT, ROAD_CLASSES, time_split, video_frames
from rsu.modeltools.env import TOOLS_HINT, have_tools

FRAMES, GAP = 30, 2
needs_tools = pytest.mark.skipif(not have_tools(), reason=f"tools extra not installed ({TOOLS_HINT})")


def _distill(video: Path, out: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    cmd = [sys.executable, "-m", "rsu", "model", "distill", "--video", str(video), "--out", str(out),
           "--frames-limit", str(FRAMES), "--gap-frames", str(GAP), "--imgsz", "160", "--epochs", "1",
           "--batch", "8", "--workers", "0", "--seed", "0", *extra]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=600, env={**os.environ})


@pytest.fixture(scope="module")
def video() -> Path:
    from rsu.assetfetch.fetch import fetch_all
    from rsu.assets.paths import assets_dir

    return fetch_all(assets_dir()) / "data" / "vtest.avi"


@pytest.fixture(scope="module")
def run(video: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    if not have_tools():
        pytest.skip(f"tools extra not installed ({TOOLS_HINT})")
    out = tmp_path_factory.mktemp("distill") / "run"
    proc = _distill(video, out, "--json")
    assert proc.returncode == 0, proc.stderr[-3000:]
    record = json.loads(proc.stdout)
    assert record["skipped_steps"] == []
    for n, step in enumerate(STEPS, 1):
        assert f"step {n}/{len(STEPS)} {step}: finished" in proc.stderr
    assert "epoch 1/1:" in proc.stderr
    return out


# --- the time split (no tools needed) ----------------------------------------------------------------------


def test_time_split_is_by_time_with_a_gap() -> None:
    split = time_split(795, 0.8)
    assert (split.train, split.gap, split.held_out) == ((0, 620), (620, 636), (636, 795))
    assert [split.of(i) for i in (0, 619, 620, 635, 636, 794)] == ["train", "train", "gap", "gap", "held_out",
                                                                    "held_out"]
    assert split.of(795) is None
    assert time_split(30, 0.8, 2).as_dict() == {"train": [0, 22], "gap": [22, 24], "held_out": [24, 30]}
    with pytest.raises(ValueError, match="too few"):
        time_split(5, 0.8, 4)
    with pytest.raises(ValueError, match="train-frac"):
        time_split(100, 1.0)


def test_bad_video_is_named(tmp_path: Path) -> None:
    fake = tmp_path / "clip.avi"
    fake.write_text("not a video")
    result = CliRunner().invoke(main, ["model", "distill", "--video", str(fake), "--out", str(tmp_path / "o")])
    assert result.exit_code == 2 and f"--video {fake}: not a video" in result.output
    missing = tmp_path / "nope.avi"
    result = CliRunner().invoke(main, ["model", "distill", "--video", str(missing), "--out", str(tmp_path / "o")])
    assert result.exit_code == 2 and f"--video {missing}: no such file" in result.output
    assert "Traceback" not in result.output


def test_without_tools_says_which_extra(video: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "ultralytics", None)  # an import of it now fails like a missing package
    monkeypatch.setitem(sys.modules, "torch", None)
    result = CliRunner().invoke(main, ["model", "distill", "--video", str(video), "--out", str(tmp_path / "o")])
    assert result.exit_code == 2 and "pip install 'rsu[tools]'" in result.output
    assert not (tmp_path / "o").exists()


# --- the chain ----------------------------------------------------------------------------------------------


@pytest.mark.tools
@needs_tools
def test_labels_follow_the_contract_and_split_by_time(run: Path, video: Path) -> None:
    labels = json.loads((run / "labels.json").read_text())
    assert labels["format"] == FORMAT
    assert labels["video"] == str(video) and labels["video_sha256"] == sha256_file(video)
    assert (labels["frames_total"], labels["width"], labels["height"]) == (FRAMES, 768, 576)
    assert labels["teacher"] == {"model": "nanodet-m", "conf": 0.35, "flip_tta": False, "extra": []}
    classes = labels["classes"]
    assert "person" in classes and set(classes) <= set(ROAD_CLASSES)
    assert classes == [c for c in ROAD_CLASSES if c in classes]  # the student's fixed order
    split = labels["split"]
    train, gap, held = split["train"], split["gap"], split["held_out"]
    assert train[0] == 0 and train[1] == gap[0] and gap[1] - gap[0] == GAP and gap[1] == held[0]
    assert held[1] == FRAMES and held[0] == round(0.8 * FRAMES)
    expected = [*range(*train), *range(*held)]  # every labelled frame, none of the gap's
    assert [f["index"] for f in labels["frames"]] == expected
    people = 0
    for f in labels["frames"]:
        assert f["split"] == ("train" if f["index"] < train[1] else "held_out")
        for x1, y1, x2, y2, name, score in f["boxes"]:
            assert name in classes and 0.35 <= score <= 1.0
            assert -1 <= x1 < x2 <= 769 and -1 <= y1 < y2 <= 577
            people += name == "person"
    assert people >= FRAMES  # vtest.avi has several people in every frame


@pytest.mark.tools
@needs_tools
def test_dataset_holds_training_frames_only(run: Path) -> None:
    import yaml

    labels = json.loads((run / "labels.json").read_text())
    images = sorted(p.name for p in (run / "dataset" / "images").glob("*.jpg"))
    assert images == [f"frame_{i:06d}.jpg" for i in range(*labels["split"]["train"])]
    data = yaml.safe_load((run / "dataset" / "data.yaml").read_text())
    assert data["nc"] == len(labels["classes"]) and list(data["names"].values()) == labels["classes"]
    first = labels["frames"][0]
    lines = (run / "dataset" / "labels" / "frame_000000.txt").read_text().splitlines()
    assert len(lines) == len(first["boxes"])
    cls, cx, cy, w, h = lines[0].split()
    x1, y1, x2, y2, name, _ = first["boxes"][0]
    assert labels["classes"][int(cls)] == name
    assert float(cx) == pytest.approx((x1 + x2) / 2 / 768, abs=1e-4) and float(h) == pytest.approx((y2 - y1) / 576,
                                                                                                   abs=1e-4)


@pytest.mark.tools
@needs_tools
def test_fp32_and_int8_run_in_the_box_detector(run: Path, video: Path) -> None:
    from rsu.config.models import DetectorConfig
    from rsu.inference.detector import Detector
    from rsu.modeltools.info import onnx_info

    classes = tuple(json.loads((run / "labels.json").read_text())["classes"])
    _, frame = next(video_frames(video, 1))
    for name, quantized in (("student_fp32.onnx", False), ("student_int8.onnx", True)):
        path = run / name
        assert onnx_info(path)["quantized"] is quantized
        det = Detector.from_config(DetectorConfig(model=str(path), conf_threshold=0.001))
        assert det.entry.name == "yolov8" and det.class_names == classes
        assert det.spec.size == (160, 160)
        out = det.detect_image(frame)
        assert out.image_size == (768, 576)
        assert set(out.labels) <= set(classes)
        assert np.all(out.xyxy[:, 2] >= out.xyxy[:, 0]) if len(out.xyxy) else True


@pytest.mark.tools
@needs_tools
def test_record_is_complete(run: Path, video: Path) -> None:
    record = json.loads((run / "record.json").read_text())
    assert record["command"].startswith("rsu model distill --video ")
    assert "--seed 0" in record["command"] and record["seed"] == 0 and record["epochs"] == 1
    data = record["data"]
    assert (Path.cwd() / data["video"]).resolve() == video.resolve()  # written relative to the working folder
    assert data["video_sha256"] == sha256_file(video)
    assert data["split"] == {"train": [0, 22], "gap": [22, 24], "held_out": [24, 30]}
    assert data["train_images"] == 22 and data["labels"] == "labels.json"
    assert {"torch", "ultralytics", "onnxruntime", "torch-pruning"} <= set(record["versions"])
    assert set(record["wall_s"]) == set(STEPS) and all(v >= 0 for v in record["wall_s"].values())
    assert [row["epoch"] for row in record["epoch_log"]] == [1]
    params = record["params"]
    assert params["after_pruning"] < 0.3 * params["before_pruning"]
    for key in ("pruned_pt", "fp32", "int8"):
        entry = record["models"][key]
        assert (run / entry["path"]).stat().st_size == entry["bytes"]  # named relative to the run folder
    assert record["models"]["int8"]["bytes"] < record["models"]["fp32"]["bytes"]
    ev = record["eval"]
    for name in ("fp32", "int8"):
        assert 0.0 <= ev[name]["map50"] <= 1.0 and 0.0 <= ev[name]["map50_95"] <= ev[name]["map50"]
        assert ev[name]["ms_per_frame"] > 0
    assert 0.0 < ev["ceiling_map50"] <= 1.0 and ev["teacher_ms_per_frame"] > 0
    assert set(record["targets"]) == {"fp32_map50_ge_0.6_ceiling", "int8_within_0.02_of_fp32",
                                      "int8_ge_3x_faster_than_teacher"}


def _copy(run: Path, tmp_path: Path) -> Path:
    """A copy of the run folder (the module's run stays as it was for the other tests)."""
    dst = tmp_path / "run"
    shutil.copytree(run, dst)
    return dst


@pytest.mark.tools
@needs_tools
def test_resume_skips_finished_steps(run: Path, video: Path, tmp_path: Path) -> None:
    out = _copy(run, tmp_path)
    before = {p: sha256_file(out / p) for p in ("labels.json", "student_fp32.onnx", "student_int8.onnx")}
    proc = _distill(video, out, "--resume")
    assert proc.returncode == 0, proc.stderr[-3000:]
    for n, step in enumerate(STEPS, 1):
        assert f"step {n}/{len(STEPS)} {step}: done in an earlier run, skipped" in proc.stderr
    assert "epoch" not in proc.stderr
    assert {p: sha256_file(out / p) for p in before} == before
    record = json.loads((out / "record.json").read_text())
    assert "--resume" not in record["command"] and record["resumed_with"][-1].endswith("--resume")
    # a run stopped after the export: only quantize and evaluate run again
    state = json.loads((out / "state.json").read_text())
    for step in ("quantize", "evaluate"):
        del state["steps"][step]
    (out / "state.json").write_text(json.dumps(state))
    (out / "student_int8.onnx").unlink()
    proc = _distill(video, out, "--resume")
    assert proc.returncode == 0, proc.stderr[-3000:]
    for n, step in enumerate(STEPS, 1):
        ran = f"step {n}/{len(STEPS)} {step}: finished" in proc.stderr
        assert ran == (step in ("quantize", "evaluate")), step
    assert (out / "student_int8.onnx").is_file() and json.loads((out / "record.json").read_text())["eval"]


@pytest.mark.tools
@needs_tools
def test_an_existing_run_needs_resume_and_the_same_options(run: Path, video: Path, tmp_path: Path) -> None:
    out = _copy(run, tmp_path)
    proc = _distill(video, out)
    assert proc.returncode == 2 and "already holds a distillation run: pass --resume" in proc.stderr
    proc = _distill(video, out, "--resume", "--seed", "1")
    assert proc.returncode == 2 and "--seed 0 -> 1" in proc.stderr
    assert "Traceback" not in proc.stderr


@pytest.mark.tools
@needs_tools
def test_the_student_is_the_same_for_the_same_seed(tmp_path: Path) -> None:
    import torch

    from rsu.modeltools.distill_train import build_pruned_student

    reports = [build_pruned_student(["person", "car"], tmp_path / f"s{i}.pt", imgsz=64, seed=s)
               for i, s in enumerate((3, 3, 4))]
    assert reports[0] == reports[1]
    weights = [torch.load(tmp_path / f"s{i}.pt", weights_only=False)["model"].state_dict() for i in range(3)]
    assert all(torch.equal(weights[0][k], weights[1][k]) for k in weights[0])
    assert not all(torch.equal(weights[0][k], weights[2][k]) for k in weights[0])


# --- the student that ships with rsu (rsu/models/, built by the chain above on all of vtest.avi) --------------


def test_the_shipped_student_is_selectable_and_finds_the_teachers_people(video: Path) -> None:
    from rsu.assets.paths import project_models_dir, resolve_model
    from rsu.config.models import DetectorConfig
    from rsu.inference.detector import Detector
    from rsu.inference.nms import box_iou

    path = resolve_model("yolov5s-vtest")
    assert path == project_models_dir() / "yolov5s-vtest-int8.onnx"
    record = json.loads((project_models_dir() / "yolov5s-vtest.record.json").read_text())
    assert record["models"]["int8"]["bytes"] == path.stat().st_size
    assert record["data"]["video_sha256"] == sha256_file(video)
    student = Detector.from_config(DetectorConfig(model="yolov5s-vtest"))
    teacher = Detector.from_config(DetectorConfig(model="nanodet-m"))
    assert student.class_names == tuple(record["classes"])
    held = record["data"]["split"]["held_out"]
    wanted, found = 0, 0
    for index, frame in video_frames(video, held[1]):
        if index not in (held[0] + 14, held[0] + 64, held[0] + 114):  # held-out frames: never trained on
            continue
        ref = teacher.detect_image(frame)
        people = ref.xyxy[[name == "person" for name in ref.labels]]
        out = student.detect_image(frame)
        mine = out.xyxy[[name == "person" for name in out.labels]]
        wanted += len(people)
        if len(mine) and len(people):
            found += int((box_iou(people, mine).max(axis=1) >= 0.5).sum())
    assert wanted >= 15 and found >= 0.8 * wanted


def test_a_project_model_that_is_not_there_says_how_to_rebuild_it(monkeypatch: pytest.MonkeyPatch,
                                                                  tmp_path: Path) -> None:
    from rsu.assets import paths
    from rsu.core.errors import ModelError

    monkeypatch.setattr(paths, "project_models_dir", lambda: tmp_path)
    with pytest.raises(ModelError, match=r"'yolov5s-vtest' is not in this installation .*rsu model distill"):
        paths.resolve_model("yolov5s-vtest")


@pytest.mark.tools
@needs_tools
def test_export_imgsz_reruns_only_export_quantize_evaluate_and_the_models_are_dynamic(run: Path, video: Path,
                                                                                      tmp_path: Path) -> None:
    from rsu.config.models import DetectorConfig
    from rsu.inference.detector import Detector
    from rsu.modeltools.quantize import input_spec_of

    out = _copy(run, tmp_path)
    proc = _distill(video, out, "--export-imgsz", "128", "--resume")
    assert proc.returncode == 0, proc.stderr[-3000:]
    for n, step in enumerate(STEPS, 1):
        ran = f"step {n}/{len(STEPS)} {step}: finished" in proc.stderr
        assert ran == (step in ("export", "quantize", "evaluate")), step
    assert "epoch" not in proc.stderr
    _, frame = next(video_frames(video, 1))
    for name in ("student_fp32.onnx", "student_int8.onnx"):
        spec = input_spec_of(out / name)  # dynamic height and width: the size comes from the export's metadata
        assert spec.size == (128, 128) and spec.resize == "rect"
        det = Detector.from_config(DetectorConfig(model=str(out / name), conf_threshold=0.001))
        assert det.entry.name == "yolov8"  # recognised without kind: from the names metadata
        assert det.detect_image(frame).image_size == (768, 576)
    record = json.loads((out / "record.json").read_text())
    assert record["options"]["export_imgsz"] == 128 and record["eval"]["int8"]["map50"] >= 0
    bad = _distill(video, out, "--export-imgsz", "100", "--resume")
    assert bad.returncode == 2 and "--export-imgsz" in bad.stderr
