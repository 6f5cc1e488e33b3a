"""`rsu check` and the config loader: valid configs pass, every bad key is named as a dotted path."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from rsu.config import ConfigError, load_config, parse_config

VALID = {
    "site": {"name": "test-site", "lat": 48.1, "lon": 11.5},
    "sources": [
        {"type": "camera", "id": "cam-1", "url": "video.avi", "fps": 10},
        {"type": "ars408", "id": "radar-1", "interface": "virtual", "channel": "vcan0"},
    ],
}


def rsu(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "rsu", *args], capture_output=True, text=True, timeout=120)


def write(tmp_path: Path, data: object, name: str = "site.yaml") -> Path:
    path = tmp_path / name
    path.write_text(yaml.safe_dump(data))
    return path


def test_valid_config_parses() -> None:
    cfg = parse_config(VALID)
    assert cfg.site.name == "test-site"
    assert [s.id for s in cfg.sources] == ["cam-1", "radar-1"]
    assert cfg.publish.zmq.endpoint == "tcp://127.0.0.1:5556"
    assert cfg.plugins.failure_limit == 5


def test_every_problem_is_a_dotted_path() -> None:
    bad = {
        "site": {"name": "Bad Name", "lat": 91, "lon": 0},
        "sources": [
            {"type": "camera", "id": "cam-1", "url": "x"},
            {"type": "camera", "id": "cam-2", "url": "x", "fps": 0, "colour": "red"},
        ],
        "publish": {"zmq": {"endpoint": "http://nope"}},
        "surprise": 1,
    }
    with pytest.raises(ConfigError) as info:
        parse_config(bad)
    problems = info.value.problems
    paths = {p.split(":")[0] for p in problems}
    assert "sources[1].fps" in paths
    assert "sources[1].colour" in paths
    assert "site.name" in paths and "site.lat" in paths
    assert "publish.zmq.endpoint" in paths
    assert "surprise" in paths
    assert "sources[1].fps: must be > 0" in problems
    assert "surprise: unknown key" in problems


def test_duplicate_source_ids_rejected() -> None:
    data = dict(VALID, sources=[VALID["sources"][0], VALID["sources"][0]])
    with pytest.raises(ConfigError, match="duplicate id 'cam-1'"):
        parse_config(data)


def test_yaml_syntax_error_names_line(tmp_path: Path) -> None:
    path = tmp_path / "broken.yaml"
    path.write_text("site:\n  name: a\n  lat: [1,\n")
    with pytest.raises(ConfigError, match="YAML syntax error at line"):
        load_config(path)


def test_missing_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read file"):
        load_config(tmp_path / "absent.yaml")


def test_cli_help_lists_commands() -> None:
    result = rsu("--help")
    assert result.returncode == 0
    for name in ("check", "bench"):
        assert name in result.stdout


def test_cli_check_valid_exits_0(tmp_path: Path) -> None:
    result = rsu("check", str(write(tmp_path, VALID)))
    assert result.returncode == 0, result.stderr
    assert "ok" in result.stdout


def test_cli_check_invalid_exits_2_with_paths(tmp_path: Path) -> None:
    bad = dict(VALID, sources=[{"type": "camera", "id": "cam-1", "url": "x", "fps": -1}])
    result = rsu("check", str(write(tmp_path, bad)))
    assert result.returncode == 2
    assert "sources[0].fps: must be > 0" in result.stderr
