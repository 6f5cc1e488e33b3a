"""Simulators behind ``rsu simulate SCENARIO``: each writes a recording folder with inputs and ground truth.

A scenario is registered here as ``name -> "module:function"``; the function is
``simulate(out: Path, seconds: float, seed: int) -> dict`` (a JSON-able summary).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

__all__ = ["SCENARIOS", "DEFAULT_SECONDS", "get_simulator"]

SCENARIOS: dict[str, str] = {
    "intersection": "rsu.sim.intersection:simulate",
    "furnace": "rsu.sim.furnace.recording:simulate",
    "air-station": "rsu.sim.air_station.recording:simulate",
}
DEFAULT_SECONDS: dict[str, float] = {"intersection": 60.0, "furnace": 3600.0, "air-station": 1800.0}


def get_simulator(name: str) -> Callable[..., dict[str, Any]]:
    """The ``simulate`` function of scenario ``name``; KeyError naming the known ones."""
    if name not in SCENARIOS:
        raise KeyError(f"unknown scenario {name!r}; known: {', '.join(sorted(SCENARIOS))}")
    module, func = SCENARIOS[name].split(":")
    return getattr(importlib.import_module(module), func)
