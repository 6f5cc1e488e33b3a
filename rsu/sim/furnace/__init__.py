"""Blast furnace plant simulator: ten channels per furnace, drift, noise and labelled fault episodes.

``simulate(out, seconds, seed, devices, rate)`` writes a recording (``readings.csv``) and its ground
truth (``truth.json``) to ``out``; :func:`simulate_run` keeps it in memory.
"""

from __future__ import annotations

from rsu.sim.furnace.faults import FAULT_KINDS, Episode
from rsu.sim.furnace.plant import CHANNELS, UNITS
from rsu.sim.furnace.recording import read_truth, simulate, write_recording
from rsu.sim.furnace.run import T0_NS, FurnaceRun, FurnaceSettings, simulate_run

__all__ = [
    "CHANNELS", "FAULT_KINDS", "T0_NS", "UNITS", "Episode", "FurnaceRun", "FurnaceSettings", "read_truth",
    "simulate", "simulate_run", "write_recording",
]
