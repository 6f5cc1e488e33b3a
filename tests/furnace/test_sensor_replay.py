"""The sensor_replay source: CSV and JSONL recordings, pacing off, bad rows counted, config union."""

from __future__ import annotations

import json
import threading
import time

from rsu.config import parse_config
from rsu.config.sources import SensorReplaySourceConfig
from rsu.sim.furnace import simulate
from rsu.sources.sensor_replay import SensorReplaySource


def run_source(src: SensorReplaySource) -> list:
    got: list = []
    src.run(got.append, threading.Event())
    return got


def test_replays_a_simulated_recording(tmp_path):
    simulate(tmp_path, seconds=60, seed=1, devices=2)
    with open(tmp_path / "readings.csv", "a", encoding="utf-8") as fh:
        fh.write("not-a-time,furnace-1,1,2\n")
    src = SensorReplaySource("furnace", tmp_path, speed=0)
    got = run_source(src)
    assert len(got) == 120 and got[0].device == "furnace-1" and got[0].source == "furnace"
    assert src.stats()["bad_rows"] == 1 and src.stats()["readings"] == 120


def test_jsonl_and_rebase(tmp_path):
    f = tmp_path / "r.jsonl"
    f.write_text("\n".join([json.dumps({"t_event_ns": 5, "device": "d", "values": {"x": 1.0}}), "{bad",
                            json.dumps({"t_event_ns": 6, "device": "d", "values": {"x": 2.0}})]) + "\n")
    src = SensorReplaySource("s", f, speed=0, rebase_time=True)
    before = time.time_ns()
    got = run_source(src)
    assert [r.values["x"] for r in got] == [1.0, 2.0]
    # as fast as possible and rebased: stamped with the box clock at emission, in order
    assert before <= got[0].t_event_ns <= got[1].t_event_ns <= time.time_ns()
    assert src.stats()["bad_rows"] == 1 and src.stats()["time_mode"] == "now"


def test_missing_file_never_raises(tmp_path):
    src = SensorReplaySource("s", tmp_path / "nope.csv", speed=0)
    assert run_source(src) == [] and "nope.csv" in src.stats()["error"]


def test_config_union_accepts_sensor_replay():
    cfg = parse_config({"site": {"name": "plant", "lat": 0, "lon": 0},
                        "sources": [{"id": "furnace", "type": "sensor_replay", "path": "rec", "speed": 0}]})
    assert isinstance(cfg.sources[0], SensorReplaySourceConfig)
