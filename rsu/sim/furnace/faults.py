"""Fault episodes: a precursor that builds up, the fault itself, and a recovery.

Kinds (blast furnace practice):
- ``hanging``: the burden stops descending. Precursor: permeability falls, hot blast pressure rises, the
  blast flow is cut back, top gas pressure sags. Fault: hanging, ended by a slip (top gas pressure and
  temperature spike).
- ``tuyere_damage``: a tuyere burns through and leaks water. Precursor: cooling water outlet temperature
  creeps up, gas utilisation drops (hydrogen from the leak). Fault: both jump, hot blast pressure wavers.
- ``cooling_failure``: stave cooling degrades. Precursor: cooling water temperatures and stave temperature
  rise. Fault: the stave temperature runs away.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from rsu.sim.furnace.plant import idx

__all__ = ["FAULT_KINDS", "Episode", "schedule", "apply"]

FAULT_KINDS = ("hanging", "tuyere_damage", "cooling_failure")
RECOVERY_S = 120.0  # effects fade with this time scale after the fault ends


@dataclass(frozen=True, slots=True)
class Episode:
    """One labelled fault on one device; times in seconds from the start of the recording."""

    device: str
    kind: str
    precursor_start_s: float
    fault_start_s: float
    fault_end_s: float

    def to_json(self, t0_ns: int) -> dict[str, object]:
        d: dict[str, object] = asdict(self)
        for key in ("precursor_start_s", "fault_start_s", "fault_end_s"):
            d[key[:-2] + "_ns"] = t0_ns + int(round(float(d[key]) * 1e9))
        return d


def schedule(rng: np.random.Generator, device: str, seconds: float, mean_gap_s: float) -> list[Episode]:
    """Fault episodes at random times: Poisson arrivals, never overlapping, none in the first 5 minutes."""
    out: list[Episode] = []
    at = 300.0 + rng.exponential(mean_gap_s / 2)
    while True:
        precursor = rng.uniform(120.0, 300.0)
        fault = rng.uniform(60.0, 240.0)
        if at + precursor + fault + RECOVERY_S > seconds:
            return out
        kind = FAULT_KINDS[int(rng.integers(len(FAULT_KINDS)))]
        out.append(Episode(device, kind, round(at, 3), round(at + precursor, 3), round(at + precursor + fault, 3)))
        at += precursor + fault + 3 * RECOVERY_S + rng.exponential(mean_gap_s)


def _shapes(t: np.ndarray, ep: Episode) -> tuple[np.ndarray, np.ndarray]:
    """``(ramp, fault)``: ramp rises 0 -> 1 (accelerating) over the precursor, stays 1 during the fault
    and fades afterwards; fault is 1 during the fault and fades afterwards."""
    p = ep.fault_start_s - ep.precursor_start_s
    tau = np.clip((t - ep.precursor_start_s) / p, 0.0, 1.0)
    after = np.maximum(t - ep.fault_end_s, 0.0)
    fade = np.where(t > ep.fault_end_s, np.exp(-after / (RECOVERY_S / 3)), 1.0)
    ramp = tau**2 * fade
    fault = np.where(t >= ep.fault_start_s, 1.0, 0.0) * fade
    return ramp, fault


def apply(rng: np.random.Generator, t: np.ndarray, x: np.ndarray, ep: Episode) -> None:
    """Add the episode's effects to the noise-free values ``x`` (in place)."""
    lo = np.searchsorted(t, ep.precursor_start_s)
    hi = np.searchsorted(t, ep.fault_end_s + 6 * RECOVERY_S)
    ts, xs = t[lo:hi], x[lo:hi]
    ramp, fault = _shapes(ts, ep)
    s = rng.uniform(0.7, 1.3)  # severity
    if ep.kind == "hanging":
        xs[:, idx("permeability_index")] *= 1.0 - s * (0.10 * ramp + 0.08 * fault)
        xs[:, idx("hot_blast_pressure")] += s * (18.0 * ramp + 12.0 * fault)
        xs[:, idx("blast_flow")] -= s * (150.0 * ramp + 250.0 * fault)
        xs[:, idx("top_gas_pressure")] -= s * (4.0 * ramp + 4.0 * fault)
        slip = (ts >= ep.fault_end_s - 15.0) & (ts < ep.fault_end_s)
        xs[slip, idx("top_gas_pressure")] += s * 25.0
        xs[slip, idx("top_gas_temp")] += s * 40.0
    elif ep.kind == "tuyere_damage":
        xs[:, idx("cooling_water_out_temp")] += s * (1.2 * ramp + 2.5 * fault)
        xs[:, idx("gas_utilisation")] -= s * (1.2 * ramp + 2.0 * fault)
        xs[:, idx("top_gas_temp")] += s * 6.0 * fault
        xs[:, idx("hot_blast_pressure")] += s * fault * 4.0 * np.sin(2 * np.pi * ts / 20.0)
    elif ep.kind == "cooling_failure":
        xs[:, idx("cooling_water_in_temp")] += s * (0.8 * ramp + 1.5 * fault)
        xs[:, idx("cooling_water_out_temp")] += s * (2.0 * ramp + 4.0 * fault)
        run = np.clip((ts - ep.fault_start_s) / 120.0, 0.0, None) * fault
        xs[:, idx("stave_temp")] += s * (6.0 * ramp + 25.0 * np.minimum(run, 2.0))
    else:  # pragma: no cover - schedule() only draws known kinds
        raise ValueError(f"unknown fault kind {ep.kind!r}")
