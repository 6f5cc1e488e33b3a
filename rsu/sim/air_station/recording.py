"""Write a simulated air-station recording: ``readings.jsonl`` (one JSON message per reading, in event
order, the same format the ZeroMQ input takes) and ``truth.json`` (stations, labelled events, and the
intervals where PM2.5 exceeded 150 µg/m³)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from rsu.config.air_station import AIR_CHANNELS
from rsu.sim.air_station.model import CHANNELS, EXCEED_PM2_5, STATIONS, T0_NS, AirRun, simulate_run
from rsu.sources.air_station.message import SCHEMA
from rsu.sources.air_station.replay import READINGS_FILE
from rsu.sim.truth import TRUTH_FILE, read_truth_doc

__all__ = ["READINGS_FILE", "TRUTH_FILE", "read_truth", "simulate", "write_recording"]



def write_recording(run: AirRun, out: Path) -> dict[str, Path]:
    """Write ``run`` under ``out`` (created); returns the paths written."""
    out.mkdir(parents=True, exist_ok=True)
    t_ns = run.t_ns()
    readings = out / READINGS_FILE
    with readings.open("w", encoding="utf-8", newline="\n") as fh:
        for i in range(t_ns.size):
            for sid, _ in STATIONS:
                row = run.values[sid][i]
                msg = {"schema": SCHEMA, "station": sid, "t_ns": int(t_ns[i]),
                       **{c: round(float(v), 2) for c, v in zip(CHANNELS, row)}}
                fh.write(json.dumps(msg) + "\n")
    truth = out / TRUTH_FILE
    doc: dict[str, Any] = {
        "scenario": "air-station", "seed": run.seed, "seconds": run.seconds, "rate_hz": run.rate_hz,
        "t0_ns": T0_NS, "readings": READINGS_FILE, "units": dict(AIR_CHANNELS),
        "stations": [{"id": sid, "position": list(pos)} for sid, pos in STATIONS],
        "events": [e.as_dict(T0_NS) for e in run.events],
        "exceedance_pm2_5": EXCEED_PM2_5, "exceedances": run.exceedances(),
    }
    truth.write_text(json.dumps(doc, indent=2) + "\n", encoding="utf-8")
    return {"readings": readings, "truth": truth}


def read_truth(path: Path) -> dict[str, Any]:
    """Load ``truth.json`` (a file or the folder holding it)."""
    return read_truth_doc(path, "air-station", "events")


def simulate(out: Path | str, seconds: float = 1800.0, seed: int = 0, *, rate: float = 1.0) -> dict[str, Any]:
    """Simulate and write an air-station recording; returns a short summary (paths, counts)."""
    run = simulate_run(float(seconds), int(seed), rate_hz=float(rate))
    paths = write_recording(run, Path(out))
    kinds: dict[str, int] = {}
    for e in run.events:
        kinds[e.kind] = kinds.get(e.kind, 0) + 1
    return {"scenario": "air-station", "out": str(out), "readings": int(run.t_s.size) * len(STATIONS),
            "events": kinds, "files": {k: str(v) for k, v in paths.items()}}
