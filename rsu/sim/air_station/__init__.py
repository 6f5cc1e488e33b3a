"""Air-quality station simulator: two stations near a haul road, with truck passes, wind gusts and rain.

``simulate(out, seconds, seed)`` writes ``readings.jsonl`` (replayable by the ``air_station`` source) and
``truth.json`` (labelled events and PM2.5 exceedances); :func:`simulate_run` keeps the run in memory.
"""

from __future__ import annotations

from rsu.sim.air_station.model import CHANNELS, STATIONS, T0_NS, AirRun, Event, simulate_run
from rsu.sim.air_station.recording import READINGS_FILE, TRUTH_FILE, read_truth, simulate, write_recording

__all__ = ["CHANNELS", "READINGS_FILE", "STATIONS", "T0_NS", "TRUTH_FILE", "AirRun", "Event", "read_truth",
           "simulate", "simulate_run", "write_recording"]
