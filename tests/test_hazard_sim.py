"""Scripted hazards of the simulated intersection: ground truth, an unchanged world without them, and the
shipped zones that match the simulator's geometry."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from rsu.cli import main
from rsu.sim.intersection.hazards import HAZARDS, hazard_zones, lane_heading, on_road_outside_crosswalk

CONFIGS = Path(__file__).resolve().parents[1] / "configs"


def test_geometry_helpers() -> None:
    assert lane_heading(30.0, -1.75) == 90.0 and lane_heading(1.75, 30.0) == 0.0
    assert lane_heading(0.0, 0.0) is None and lane_heading(30.0, 6.0) is None
    assert on_road_outside_crosswalk(0.0, 25.0) and not on_road_outside_crosswalk(0.0, 11.0)
    assert not on_road_outside_crosswalk(-7.5, 25.0)


def test_simulate_with_hazards_writes_their_ground_truth(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["simulate", "intersection", "--out", str(tmp_path / "h"), "--seconds", "30",
                                       "--hazards"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["hazards"] == 3
    truth = {r["hazard"]: r for r in map(json.loads, (tmp_path / "h" / "hazards.jsonl").read_text().splitlines())}
    assert set(truth) == set(HAZARDS)
    stop = truth["stopped-vehicle"]
    assert stop["complete"] and stop["start_enu"] == [28.0, -1.75]
    assert 11.0 <= (stop["end_ns"] - stop["start_ns"]) / 1e9 <= 12.5          # stands for 12 s
    walk = truth["jaywalker"]
    assert walk["start_enu"][0] == pytest.approx(-3.5, abs=0.05) and walk["end_enu"][0] == pytest.approx(3.5, abs=0.05)
    wrong = truth["wrong-way"]
    assert wrong["start_enu"][0] == 1.75 and wrong["end_enu"][1] == pytest.approx(8.0, abs=0.2)
    scenario = yaml.safe_load((tmp_path / "h" / "scenario.yaml").read_text())
    assert [h["hazard"] for h in scenario["hazards"]] == [t for t in truth]
    # the truth objects include the scripted agents, so tracking scores see them too
    ids = {o["id"] for line in (tmp_path / "h" / "truth.jsonl").read_text().splitlines()
           for o in json.loads(line)["objects"]}
    assert {r["agent_id"] for r in truth.values()} <= ids


def test_without_hazards_the_world_of_a_seed_is_unchanged(tmp_path: Path) -> None:
    from rsu.sim.intersection import simulate

    simulate(tmp_path / "a", 5.0, 3)
    simulate(tmp_path / "b", 5.0, 3, hazards=())
    assert (tmp_path / "a" / "truth.jsonl").read_bytes() == (tmp_path / "b" / "truth.jsonl").read_bytes()
    assert not (tmp_path / "a" / "hazards.jsonl").exists()


def test_unknown_hazard_is_refused(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["simulate", "intersection", "--out", str(tmp_path), "--hazards", "ufo"])
    assert result.exit_code == 2 and "ufo" in result.output


@pytest.mark.parametrize("name", ["intersection.yaml", "demo.yaml"])
def test_shipped_zones_are_the_simulators(name: str) -> None:
    cfg = yaml.safe_load((CONFIGS / name).read_text())
    zones = cfg["plugins"]["hazard_warning"]["zones"]
    assert zones == json.loads(json.dumps(hazard_zones()))
