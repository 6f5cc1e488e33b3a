"""``rsu graph``: the true edges of the box a config builds; docs/architecture.md shows the demo's (issue 23)."""

from __future__ import annotations

import re
from pathlib import Path

from click.testing import CliRunner

from rsu.cli import main


def _graph(repo_root: Path, *args: str) -> str:
    result = CliRunner().invoke(main, ["graph", str(repo_root / "configs" / "demo.yaml"), *args])
    assert result.exit_code == 0, result.output
    return result.output


def test_the_architecture_doc_shows_the_demos_graph(repo_root: Path) -> None:
    doc = (repo_root / "docs" / "architecture.md").read_text(encoding="utf-8")
    blocks = re.findall(r"```mermaid\n(.*?)```", doc, re.DOTALL)
    assert blocks, "docs/architecture.md needs a ```mermaid block"
    assert blocks[0] == _graph(repo_root, "--format", "mermaid"), \
        "docs/architecture.md: paste the output of `rsu graph configs/demo.yaml --format mermaid`"


def test_text_lists_thread_models_and_edges(repo_root: Path) -> None:
    out = _graph(repo_root)
    assert "[0] detector [latest-value worker]: Frame" in out
    assert "operators [inline]: Detections, RadarScan, SensorReading -> ObjectList, Prediction" in out
    assert "  cam-vtest --> detector: Frame" in out
    assert "  detector --> operators: Detections" in out
    assert "  operators --> publisher: ObjectList, Prediction" in out
    assert "heartbeat [periodic]" in out


def test_a_batching_detector_and_a_fault_worker_are_not_shown_on_the_router_thread(
        repo_root: Path, tmp_path: Path) -> None:
    cfg = tmp_path / "box.yaml"
    cfg.write_text(
        "version: 1\nsite: {name: t, lat: 48.0, lon: 11.0}\n"
        "sources:\n"
        "  - {id: cam-a, type: camera, url: a.avi}\n"
        "  - {id: cam-b, type: camera, url: b.avi}\n"
        "  - {id: plant, type: sensor_replay, path: var/x}\n"
        "models:\n  detector: {model: nanodet-m, batch_window_ms: 10}\n"
        "fault_prediction: {mode: worker}\n"
        "plugins: {enabled: [furnace_fault]}\n", encoding="utf-8")
    result = CliRunner().invoke(main, ["graph", str(cfg)])
    assert result.exit_code == 0, result.output
    assert "detector [batch worker]" in result.output
    assert "fault_prediction [batch worker]: SensorReading -> Prediction" in result.output
