"""Write a simulated furnace recording to disk: ``readings.csv`` (one row per device and sample, in event
order) and ``truth.json`` (settings and labelled fault episodes)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from rsu.sim.furnace.plant import CHANNELS, UNITS
from rsu.sim.furnace.run import FurnaceRun, FurnaceSettings, simulate_run
from rsu.sim.truth import TRUTH_FILE, read_truth_doc

__all__ = ["READINGS_FILE", "TRUTH_FILE", "simulate", "write_recording", "read_truth"]

READINGS_FILE = "readings.csv"
_DECIMALS = {"permeability_index": 4}


def write_recording(run: FurnaceRun, out: Path) -> dict[str, Path]:
    """Write ``run`` under ``out`` (created); returns the paths written.

    CSV columns: ``t_event_ns, device``, then the ten channels (units in ``truth.json``). Rows are sorted by
    event time, devices interleaved, as a plant historian would replay them.
    """
    out.mkdir(parents=True, exist_ok=True)
    t_ns = run.t_ns()
    devices = run.devices
    readings = out / READINGS_FILE
    fmts = ["%." + str(_DECIMALS.get(c, 3)) + "f" for c in CHANNELS]
    with readings.open("w", encoding="utf-8", newline="\n") as fh:
        fh.write(",".join(["t_event_ns", "device", *CHANNELS]) + "\n")
        for i in range(t_ns.size):
            for dev in devices:
                row = run.values[dev][i]
                fh.write(f"{t_ns[i]},{dev}," + ",".join(f % v for f, v in zip(fmts, row)) + "\n")
    truth = out / TRUTH_FILE
    doc = run.truth()
    doc["units"] = dict(UNITS)
    doc["readings"] = READINGS_FILE
    truth.write_text(json.dumps(doc, indent=2) + "\n", encoding="utf-8")
    return {"readings": readings, "truth": truth}


def read_truth(path: Path) -> dict[str, Any]:
    """Load ``truth.json`` (a file or the folder holding it)."""
    return read_truth_doc(path, "furnace", "episodes")


def simulate(out: Path | str, seconds: float = 3600.0, seed: int = 0, *, devices: int = 2, rate: float = 1.0,
             fault_gap_s: float = 1800.0) -> dict[str, Any]:
    """Simulate and write a furnace recording; returns a short summary (paths, counts)."""
    settings = FurnaceSettings(seconds=float(seconds), devices=int(devices), rate_hz=float(rate),
                               fault_gap_s=float(fault_gap_s))
    run = simulate_run(int(seed), settings)
    paths = write_recording(run, Path(out))
    kinds: dict[str, int] = {}
    for ep in run.episodes:
        kinds[ep.kind] = kinds.get(ep.kind, 0) + 1
    return {
        "scenario": "furnace",
        "seed": int(seed),
        "devices": run.devices,
        "samples_per_device": int(run.t_s.size),
        "episodes": len(run.episodes),
        "episodes_by_kind": kinds,
        "files": {k: str(v) for k, v in paths.items()},
        "readings": int(run.t_s.size) * len(run.devices),
    }
