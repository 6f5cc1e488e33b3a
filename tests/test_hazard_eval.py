"""``rsu eval intersection --hazards`` at small scale: every scripted hazard raised within 3 s of its start and
terminated within 3 s of its end; no false event without hazards (seeds 0-4, short runs)."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from rsu.cli import main

pytestmark = pytest.mark.skipif(importlib.util.find_spec("rsu_hazard_warning") is None,
                                reason="the hazard_warning plugin is not installed")

TRIGGERS = ("stationaryVehicle", "humanPresenceOnTheRoad", "wrongWayDriving")
KEYS = {"expected", "raised", "raise_delay_s_max", "terminate_delay_s_max", "false_events"}


def test_eval_hazards_json_meets_the_targets(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["eval", "intersection", "--hazards", "--seconds", "32", "--seed", "1",
                                       "--json", "--out", str(tmp_path / "rec")])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.output)
    assert {"fused", "camera_only", "radar_only", "hazards", "scenario"} <= set(doc)
    hazards = doc["hazards"]
    assert set(hazards) == set(TRIGGERS)
    for trigger in TRIGGERS:
        h = hazards[trigger]
        assert KEYS <= set(h), trigger
        assert h["expected"] == 1 and h["raised"] == 1, (trigger, h)
        assert h["raise_delay_s_max"] <= 3.0, (trigger, h)
        assert h["terminate_delay_s_max"] is not None and abs(h["terminate_delay_s_max"]) <= 3.0, (trigger, h)
        assert h["false_events"] == 0, (trigger, h)
    truth = [json.loads(line) for line in (tmp_path / "rec" / "hazards.jsonl").read_text().splitlines()]
    assert sorted(t["cause"] for t in truth) == sorted(TRIGGERS) and all(t["complete"] for t in truth)


@pytest.mark.parametrize("seed", range(5))
def test_no_false_event_without_hazards(tmp_path: Path, seed: int) -> None:
    from rsu.eval.hazards import evaluate_recording
    from rsu.sim.intersection import simulate

    simulate(tmp_path, 15.0, seed)
    result = evaluate_recording(tmp_path)
    assert result["stats"]["triggers"]["cycles"] > 100                       # the plugin saw the whole run
    assert {t: (result[t]["expected"], result[t]["false_events"]) for t in TRIGGERS} == dict.fromkeys(TRIGGERS, (0, 0))


def test_hazards_option_is_checked() -> None:
    runner = CliRunner()
    bad = runner.invoke(main, ["eval", "intersection", "--hazards", "meteor", "--seconds", "1"])
    assert bad.exit_code == 2 and "meteor" in bad.output
    other = runner.invoke(main, ["eval", "furnace", "--hazards"])
    assert other.exit_code == 2 and "intersection scenario only" in other.output
