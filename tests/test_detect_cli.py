"""``rsu detect`` and ``rsu assets`` through the real command line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from rsu.assetfetch.fetch import fetch_all
from rsu.assets.paths import assets_dir
from rsu.cli import main


@pytest.fixture(scope="module")
def assets() -> Path:
    return fetch_all(assets_dir())


def _json_lines(text: str) -> list[dict]:
    return [json.loads(line) for line in text.splitlines() if line.startswith("{")]


def test_detect_image_json(assets: Path) -> None:
    result = CliRunner().invoke(main, ["detect", str(assets / "data/bus.jpg"), "--json"])
    assert result.exit_code == 0, result.output
    (line,) = _json_lines(result.stdout)
    assert (line["width"], line["height"], line["frame"]) == (810, 1080, 0)
    classes = [d["class"] for d in line["detections"]]
    assert classes.count("bus") == 1 and classes.count("person") >= 4
    box = line["detections"][0]["box"]
    assert len(box) == 4 and 0 <= box[0] < box[2] <= 810 and 0 <= box[1] < box[3] <= 1080


def test_detect_video_one_line_per_frame(assets: Path) -> None:
    result = CliRunner().invoke(main, ["detect", str(assets / "data/vtest.avi"), "--json", "--every", "10",
                                       "--max-frames", "3", "--model", "ssd-mobilenetv2"])
    assert result.exit_code == 0, result.output
    lines = _json_lines(result.stdout)
    assert [ln["frame"] for ln in lines] == [0, 10, 20]
    assert all(any(d["class"] == "Person" for d in ln["detections"]) for ln in lines)
    assert lines[0]["model"] == "ssd-mobilenetv2-oidv4.onnx"


def test_detect_text_output_and_config(assets: Path, tmp_path: Path) -> None:
    cfg = tmp_path / "c.yaml"
    cfg.write_text("site: {name: s1, lat: 0, lon: 0}\nmodels:\n  detector:\n    model: nanodet-m\n"
                   "    classes: [bus]\n")
    result = CliRunner().invoke(main, ["detect", str(assets / "data/bus.jpg"), "--config", str(cfg)])
    assert result.exit_code == 0, result.output
    assert "frame 0: 1 objects: bus 0.7" in result.stdout


def test_detect_bad_inputs_give_clear_errors(assets: Path, tmp_path: Path) -> None:
    bad = tmp_path / "broken.jpg"
    bad.write_bytes(b"\xff\xd8 this is not a jpeg")
    result = CliRunner().invoke(main, ["detect", str(bad)])
    assert result.exit_code == 1 and "broken.jpg: not an image" in result.output
    result = CliRunner().invoke(main, ["detect", str(assets / "data/bus.jpg"), "--model", "no-such-model"])
    assert result.exit_code == 1 and "unknown model 'no-such-model'" in result.output
    assert "Traceback" not in result.output


def test_assets_status_json(assets: Path) -> None:
    result = CliRunner().invoke(main, ["assets", "status", "--json"])
    assert result.exit_code == 0, result.output
    info = json.loads(result.stdout)["assets"]
    assert info["data/bus.jpg"]["verified"] and info["models/nanodet-m-416.onnx"]["model"] == "nanodet-m"
    assert "Apache-2.0" in info["models/ssd-mobilenetv2-oidv4.tflite"]["licence"]


def test_assets_fetch_is_idempotent(assets: Path) -> None:
    result = CliRunner().invoke(main, ["assets", "fetch"])
    assert result.exit_code == 0, result.output
    assert "downloading" not in result.output and "converting" not in result.output
    assert "objectron (npm @mediapipe/objectron==0.4.1675468480): ok" in result.output
