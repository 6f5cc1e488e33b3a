"""Simulator, replay, evaluation and benchmark end to end (short seeded runs)."""

from __future__ import annotations

import json
import threading

import pytest
from click.testing import CliRunner

from rsu_sdk import Detections, RadarScan

from rsu.app.testing import AdvancingStop, clock_seconds
from rsu.cli import main
from rsu.core.clock import ManualClock
from rsu.eval.intersection import run_recording
from rsu.sim.intersection import simulate
from rsu.sources.replay import ReplaySource

METRIC_KEYS = {"mota", "idf1", "id_switches", "pos_rmse_m", "vel_rmse_mps"}


def test_fused_beats_each_sensor_alone(tmp_path) -> None:
    simulate(tmp_path, 20.0, 0)
    r = run_recording(tmp_path)
    fused, cam, radar = r["fused"], r["camera_only"], r["radar_only"]
    assert fused["mota"] >= cam["mota"] + 0.1, (fused["mota"], cam["mota"])
    assert fused["mota"] >= radar["mota"] + 0.1, (fused["mota"], radar["mota"])
    assert fused["pos_rmse_m"] < 0.5
    decoder = fused["stats"]["radar_decoder"]
    assert decoder["cycles"] > 250 and decoder["incomplete_cycles"] <= decoder["bad_frames"] + 2


def test_simulate_cli_check_and_replay(tmp_path) -> None:
    runner = CliRunner()
    out = tmp_path / "rec"
    res = runner.invoke(main, ["simulate", "intersection", "--out", str(out), "--seconds", "3", "--seed", "4"])
    assert res.exit_code == 0, res.output
    summary = json.loads(res.output)
    assert summary["frames"] == 30 and {p.name for p in out.iterdir()} >= {
        "truth.jsonl", "camera.jsonl", "radar.log.gz", "scenario.yaml", "config.yaml"}
    # --no-ports: the recording's config publishes on the default port, which another box here may hold
    assert runner.invoke(main, ["check", "--no-ports", str(out / "config.yaml")]).exit_code == 0
    cal = runner.invoke(main, ["calibrate", str(out / "config.yaml"), "--json"])
    assert cal.exit_code == 0 and json.loads(cal.output)["cameras"]["cam-1"]["ok"]
    again = tmp_path / "again"
    runner.invoke(main, ["simulate", "intersection", "--out", str(again), "--seconds", "3", "--seed", "4"])
    assert (again / "camera.jsonl").read_bytes() == (out / "camera.jsonl").read_bytes()  # seeded
    src = ReplaySource("replay", out, speed=0)
    got: list = []
    src.run(got.append, threading.Event())
    times = [p.t_event_ns for p in got]
    assert times == sorted(times)
    n_det = sum(isinstance(p, Detections) for p in got)
    n_radar = sum(isinstance(p, RadarScan) for p in got)
    assert n_det >= 28 and n_radar >= 38 and src.stats()["radar_cycles"] == n_radar
    assert {p.source for p in got} == {"cam-1", "radar-1"}
    bad = runner.invoke(main, ["simulate", "nowhere", "--out", str(tmp_path / "x")])
    assert bad.exit_code != 0 and "unknown scenario" in bad.output


def test_replay_paces_at_real_time(tmp_path) -> None:
    """At speed 2 each product is emitted once half its recorded offset has passed on the source's clock (an
    injected one that moves only while the source waits), so the recording plays in half its span."""
    simulate(tmp_path, 1.0, 1)
    clock = ManualClock(wall_ns=1_800_000_000_000_000_000)  # after the recording: its times are kept
    src = ReplaySource("replay", tmp_path, speed=2.0, radar=False, wall_ns=clock.wall_ns,
                       monotonic=clock_seconds(clock))
    stop = AdvancingStop(clock)
    got: list = []  # (product, the clock's reading in s when it was emitted)
    src.run(lambda p: got.append((p, clock.monotonic_ns() / 1e9)), stop)
    (first, start), (last, _) = got[0], got[-1]
    assert len(got) >= 9 and stop.waits >= len(got) - 2  # 10 camera frames a second
    for p, at in got:
        assert at - start == pytest.approx((p.t_event_ns - first.t_event_ns) / 1e9 / 2.0, abs=1e-6)
    assert stop.waited_s == pytest.approx((last.t_event_ns - first.t_event_ns) / 1e9 / 2.0, abs=1e-6)


def test_eval_cli_json_keys(tmp_path) -> None:
    simulate(tmp_path, 5.0, 2)
    run_recording(tmp_path, ("fused",), write=True)
    runner = CliRunner()
    res = runner.invoke(main, ["eval", str(tmp_path / "truth.jsonl"), str(tmp_path / "objects_fused.jsonl"),
                               "--json"])
    assert res.exit_code == 0, res.output
    assert METRIC_KEYS <= set(json.loads(res.output))
    res = runner.invoke(main, ["eval", "intersection", "--seconds", "4", "--seed", "1", "--json"])
    assert res.exit_code == 0, res.output
    doc = json.loads(res.output)
    for mode in ("fused", "camera_only", "radar_only"):
        assert METRIC_KEYS <= set(doc[mode])
    res = runner.invoke(main, ["eval", "nonsense"])
    assert res.exit_code != 0 and "not a scenario" in res.output


def test_bench_fusion_quick() -> None:
    res = CliRunner().invoke(main, ["bench", "fusion", "--quick", "--json"])
    assert res.exit_code == 0, res.output
    doc = json.loads(res.output)
    assert set(doc["objects"]) == {"10", "50", "100", "200", "500"}
    for entry in doc["objects"].values():
        assert entry["p50_ms"] > 0 and entry["p99_ms"] >= entry["p50_ms"] and entry["baseline_lsa_p50_ms"] > 0
