"""`rsu soak` at toy scale: a few seconds, 1 s samples, the summary's keys (the real soak is a benchmark)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import yaml

from rsu.bench.soak import growth_per_hour, process_sample, summarise

MEASURES = ("rss_mb", "threads", "fds", "queue_depth", "latency_p99_ms")


def test_growth_per_hour_is_the_least_squares_slope() -> None:
    assert growth_per_hour([0, 60, 120], [10.0, 11.0, 12.0]) == 60.0  # 1 per minute
    assert growth_per_hour([0, 30, 60, 90], [5, 5, 5, 5]) == 0.0
    assert growth_per_hour([0], [1.0]) is None and growth_per_hour([3, 3], [1, 2]) is None
    samples = [{"t_s": t, "rss_mb": 100.0 + (50 if t < 5 else t / 3600), "threads": 9, "fds": 20,
                "queue_depth": 0, "latency_p99_ms": None} for t in range(0, 20)]
    out = summarise(samples, warmup_s=5)
    assert abs(out["rss_mb"]["growth_per_h"] - 1.0) < 1e-6 and out["rss_mb"]["max"] < 101  # warm-up left out
    assert out["threads"]["growth_per_h"] == 0.0 and out["latency_p99_ms"]["last"] is None


def test_process_sample_reads_this_process() -> None:
    s = process_sample()
    assert s["threads"] >= 1
    if Path("/proc/self/status").exists():
        assert s["rss_mb"] > 1 and s["fds"] >= 3
        assert 0 < s["rss_anon_mb"] <= s["rss_mb"] and s["rss_file_mb"] is not None


def test_rsu_soak_runs_a_box_and_prints_the_summary(tmp_path: Path) -> None:
    rec = tmp_path / "furnace"
    subprocess.run([sys.executable, "-m", "rsu", "simulate", "furnace", "--out", str(rec), "--seconds", "60",
                    "--seed", "1"], check=True, capture_output=True, timeout=300)
    cfg = tmp_path / "soak.yaml"
    cfg.write_text(yaml.safe_dump({
        "site": {"name": "soak", "lat": 51.49, "lon": 6.73},
        "sources": [{"id": "furnaces", "type": "sensor_replay", "path": str(rec), "speed": 20.0, "loop": True,
                     "rebase_time": True}],
        "publish": {"zmq": {"endpoint": "tcp://127.0.0.1:*"}},
        "pipeline": {"checkpoint": {"dir": str(tmp_path / "ckpt")}},
        "web": {"enabled": False},
    }))
    proc = subprocess.run([sys.executable, "-m", "rsu", "soak", str(cfg), "--minutes", "0.1", "--interval", "1",
                           "--warmup", "2", "--samples", str(tmp_path / "samples.jsonl")],
                          capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = json.loads(proc.stdout)
    for key in ("seconds", "interval_s", "warmup_s", "samples", "timeline", "publish", "drops", *MEASURES):
        assert key in out, key
    for key in MEASURES:
        assert set(out[key]) == {"first", "last", "min", "max", "growth_per_h"}, key
    assert out["samples"] >= 4 and len(out["timeline"]) == out["samples"]
    assert out["rss_mb"]["last"] > 10 and out["threads"]["max"] >= 2 and out["fds"]["min"] >= 3
    assert out["publish"]["sent"] > 0 and not out["box_stopped_early"]
    assert len((tmp_path / "samples.jsonl").read_text().splitlines()) == out["samples"]
