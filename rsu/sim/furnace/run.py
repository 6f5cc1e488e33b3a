"""Simulate a whole plant: several furnaces (devices), each with its own operating point and faults."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from rsu.sim.furnace import faults
from rsu.sim.furnace.plant import CHANNELS, add_noise, normal_operation

__all__ = ["T0_NS", "FurnaceSettings", "FurnaceRun", "simulate_run"]

T0_NS = 1_767_225_600_000_000_000  # 2026-01-01T00:00:00Z: recordings are reproducible to the nanosecond


@dataclass(frozen=True, slots=True)
class FurnaceSettings:
    """What a simulated recording depends on (with the seed, it reproduces the data exactly)."""

    seconds: float = 3600.0
    devices: int = 2
    rate_hz: float = 1.0
    fault_gap_s: float = 1800.0  # mean time between the end of one episode and the next precursor

    def __post_init__(self) -> None:
        if self.seconds <= 0 or self.devices < 1 or self.rate_hz <= 0 or self.fault_gap_s <= 0:
            raise ValueError(f"furnace settings must be positive, got {self}")


@dataclass(slots=True)
class FurnaceRun:
    """A simulated recording held in memory.

    :param t_s: ``(n,)`` seconds since ``t0_ns``, shared by all devices.
    :param values: device -> ``(n, 10)`` float32 in :data:`~rsu.sim.furnace.plant.CHANNELS` order.
    """

    seed: int
    settings: FurnaceSettings
    t_s: np.ndarray
    values: dict[str, np.ndarray]
    episodes: list[faults.Episode] = field(default_factory=list)
    t0_ns: int = T0_NS

    @property
    def devices(self) -> list[str]:
        return list(self.values)

    def t_ns(self) -> np.ndarray:
        """``(n,)`` int64 event times."""
        return self.t0_ns + np.round(self.t_s * 1e9).astype(np.int64)

    def labels(self, device: str, *, onset: float = 0.0) -> np.ndarray:
        """Per-sample training target: 1 from the precursor (after ``onset``, a fraction of the precursor
        during which the build-up is still too faint to tell) to the fault end, 0 otherwise, and -1 (ignore)
        during that faint start and while the effects of a fault fade (``RECOVERY_S`` after its end)."""
        y = np.zeros(self.t_s.size, dtype=np.float32)
        for ep in self.episodes:
            if ep.device != device:
                continue
            t = self.t_s
            sure = ep.precursor_start_s + onset * (ep.fault_start_s - ep.precursor_start_s)
            y[(t > ep.fault_end_s) & (t <= ep.fault_end_s + faults.RECOVERY_S)] = -1.0
            y[(t >= ep.precursor_start_s) & (t < sure)] = -1.0
            y[(t >= sure) & (t <= ep.fault_end_s)] = 1.0
        return y

    def truth(self) -> dict[str, object]:
        """The ground truth as JSON: settings, channels and each labelled episode (seconds and ns)."""
        return {
            "scenario": "furnace",
            "seed": self.seed,
            "t0_ns": self.t0_ns,
            "seconds": self.settings.seconds,
            "rate_hz": self.settings.rate_hz,
            "fault_gap_s": self.settings.fault_gap_s,
            "recovery_s": faults.RECOVERY_S,
            "devices": self.devices,
            "channels": list(CHANNELS),
            "episodes": [ep.to_json(self.t0_ns) for ep in self.episodes],
        }


def device_name(i: int) -> str:
    return f"furnace-{i + 1}"


def simulate_run(seed: int, settings: FurnaceSettings | None = None) -> FurnaceRun:
    """Simulate ``settings.devices`` furnaces for ``settings.seconds``; deterministic from ``seed``."""
    settings = settings or FurnaceSettings()
    n = max(2, int(round(settings.seconds * settings.rate_hz)))
    t = np.arange(n, dtype=np.float64) / settings.rate_hz
    values: dict[str, np.ndarray] = {}
    episodes: list[faults.Episode] = []
    for i in range(settings.devices):
        rng = np.random.default_rng([seed, i])  # each device its own stream: adding devices changes no other
        x = normal_operation(rng, t)
        eps = faults.schedule(rng, device_name(i), float(t[-1]), settings.fault_gap_s)
        for ep in eps:
            faults.apply(rng, t, x, ep)
        values[device_name(i)] = add_noise(rng, x).astype(np.float32)
        episodes.extend(eps)
    episodes.sort(key=lambda e: (e.precursor_start_s, e.device))
    return FurnaceRun(seed=seed, settings=settings, t_s=t, values=values, episodes=episodes)
