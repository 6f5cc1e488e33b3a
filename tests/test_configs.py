"""Every site config shipped in configs/ passes `rsu check` once what it names exists: the fetched assets
(`rsu assets fetch`) and the recordings `rsu simulate` makes (stood in for here by empty files)."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from rsu.assetfetch.fetch import fetch_all
from rsu.assets.paths import assets_dir
from rsu.cli import main
from rsu.config import RsuConfig, load_config
from rsu.app.preflight import local_path, preflight
from rsu.sources.air_station.replay import READINGS_FILE

CONFIGS = sorted((Path(__file__).resolve().parents[1] / "configs").glob("*.yaml"))


@pytest.fixture(scope="module")
def fetched() -> Path:
    return fetch_all(assets_dir())


def stand_in_inputs(cfg: RsuConfig, base: Path) -> list[str]:
    """Create an empty stand-in for each camera file and recording ``cfg`` names below ``base``."""
    made = []
    for i, src in enumerate(cfg.sources):
        if src.type == "camera" and (path := local_path(src.url, base)) is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.touch()
        elif src.type == "replay":
            (base / src.path).mkdir(parents=True, exist_ok=True)
        elif src.type == "sensor_replay":
            (base / src.path).mkdir(parents=True, exist_ok=True)
            (base / src.path / "readings.csv").touch()
        elif src.type == "air_station" and src.replay is not None:
            (base / src.replay.path).mkdir(parents=True, exist_ok=True)
            (base / src.replay.path / READINGS_FILE).touch()
        else:
            continue
        made.append(f"sources[{i}]")
    return made


def test_configs_folder_has_the_site_examples() -> None:
    assert {"demo.yaml", "furnace.yaml", "air-station.yaml", "edge-server.yaml"} <= {p.name for p in CONFIGS}


@pytest.mark.parametrize("path", CONFIGS, ids=[p.name for p in CONFIGS])
def test_rsu_check_accepts(path: Path, fetched: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    stand_in_inputs(load_config(path), tmp_path)
    monkeypatch.chdir(tmp_path)
    # --no-ports: the fixed ports of these configs may be held by another box on this machine
    result = CliRunner().invoke(main, ["check", "--no-ports", str(path)])
    assert result.exit_code == 0, result.output
    assert result.output.strip().endswith(": ok")


@pytest.mark.parametrize("path", CONFIGS, ids=[p.name for p in CONFIGS])
def test_rsu_check_names_each_missing_input(path: Path, fetched: Path, tmp_path: Path) -> None:
    cfg = load_config(path)
    inputs = stand_in_inputs(cfg, tmp_path / "scratch")
    problems = preflight(cfg, tmp_path, ports=False)
    assert sorted({p.split(".")[0] for p in problems}) == sorted(inputs), problems
