"""The air-station world: background air plus labelled dust events, sampled per station.

Events (ground truth): ``truck_pass`` (a haul truck raises a PM spike that decays, strongest at the
stations nearest its position on the haul road), ``wind_gust`` (resuspended coarse dust, PM10 more than
PM2.5, wind speed up at every station) and ``rain_spell`` (humidity near saturation, PM washed out).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

__all__ = ["STATIONS", "T0_NS", "AirRun", "Event", "simulate_run"]

T0_NS = 1_748_851_200_000_000_000  # 2025-06-02T08:00:00Z: a working day, outside usual quiet hours
STATIONS: tuple[tuple[str, tuple[float, float]], ...] = (("aq-1", (0.0, 0.0)), ("aq-2", (150.0, 40.0)))
CHANNELS = ("pm2_5", "pm10", "temperature_c", "humidity_pct", "wind_speed_mps", "wind_dir_deg")
HAUL_ROAD_Y = 20.0
EXCEED_PM2_5 = 150.0


@dataclass(frozen=True, slots=True)
class Event:
    """One labelled event; ``peak_pm2_5`` is its added PM2.5 at each station (µg/m³, negative = washout)."""

    kind: str
    t_start_s: float
    t_end_s: float
    peak_pm2_5: dict[str, float]
    detail: dict[str, float] = field(default_factory=dict)

    def as_dict(self, t0_ns: int) -> dict[str, Any]:
        return {"kind": self.kind, "t_start_ns": t0_ns + int(self.t_start_s * 1e9),
                "t_end_ns": t0_ns + int(self.t_end_s * 1e9),
                "peak_pm2_5": {k: round(v, 1) for k, v in self.peak_pm2_5.items()},
                **{k: round(v, 3) for k, v in self.detail.items()}}


@dataclass(slots=True)
class AirRun:
    """A simulated run: ``values[station]`` is ``(N, 6)`` in :data:`CHANNELS` order at times ``t_s``."""

    seconds: float
    seed: int
    rate_hz: float
    t_s: np.ndarray
    values: dict[str, np.ndarray]
    events: list[Event]

    def t_ns(self) -> np.ndarray:
        return T0_NS + np.round(self.t_s * 1e9).astype(np.int64)

    def exceedances(self, threshold: float = EXCEED_PM2_5) -> dict[str, list[list[int]]]:
        """Per station, ``[start_ns, end_ns]`` intervals where PM2.5 is above ``threshold``."""
        out: dict[str, list[list[int]]] = {}
        t_ns = self.t_ns()
        for sid, v in self.values.items():
            above = np.concatenate([[False], v[:, 0] > threshold, [False]])
            edges = np.flatnonzero(np.diff(above.astype(np.int8)))
            out[sid] = [[int(t_ns[a]), int(t_ns[b - 1])] for a, b in zip(edges[::2], edges[1::2])]
        return out


def _ar1(rng: np.random.Generator, n: int, sd: float, rho: float = 0.98) -> np.ndarray:
    noise = rng.normal(0.0, sd * math.sqrt(1 - rho * rho), n)
    out = np.empty(n)
    acc = rng.normal(0.0, sd)
    for i in range(n):
        acc = rho * acc + noise[i]
        out[i] = acc
    return out


def _count(rng: np.random.Generator, seconds: float, every_s: float) -> int:
    """Poisson count, at least one when the run is long enough to show the event."""
    return max(1 if seconds >= 600 else 0, int(rng.poisson(seconds / every_s)))


def _bump(t: np.ndarray, start: float, rise: float, hold: float, fall: float) -> np.ndarray:
    """0 -> 1 over ``rise``, 1 for ``hold``, 1 -> 0 over ``fall`` (smooth steps)."""
    up = np.clip((t - start) / rise, 0, 1)
    down = np.clip((t - start - rise - hold) / fall, 0, 1)
    return (np.sin(up * math.pi / 2) ** 2) * (1 - np.sin(down * math.pi / 2) ** 2)


def simulate_run(seconds: float = 1800.0, seed: int = 0, *, rate_hz: float = 1.0) -> AirRun:
    """Simulate ``seconds`` of two stations at ``rate_hz``; deterministic for a ``seed``."""
    rng = np.random.default_rng(seed)
    n = max(1, int(seconds * rate_hz))
    t = np.arange(n) / rate_hz
    events: list[Event] = []
    add = {sid: np.zeros(n) for sid, _ in STATIONS}  # PM2.5 added by dust events
    coarse = {sid: np.zeros(n) for sid, _ in STATIONS}  # PM10 - PM2.5 added
    wind_add, washout, humid = np.zeros(n), np.zeros(n), np.zeros(n)
    for _ in range(_count(rng, seconds, 240.0)):
        t0, x = float(rng.uniform(0, max(1.0, seconds - 60))), float(rng.uniform(-40, 190))
        amp, tau = float(rng.uniform(400, 900)), float(rng.uniform(40, 90))
        shape = np.where(t < t0, 0.0, np.where(t < t0 + 8, (t - t0) / 8, np.exp(-(t - t0 - 8) / tau)))
        peaks = {}
        for sid, (sx, sy) in STATIONS:
            peak = amp * math.exp(-math.dist((sx, sy), (x, HAUL_ROAD_Y)) / 70.0)
            add[sid] += peak * shape
            coarse[sid] += 1.5 * peak * shape
            peaks[sid] = peak
        events.append(Event("truck_pass", t0, min(seconds, t0 + 8 + 4 * tau), peaks, {"road_x_m": x}))
    for _ in range(_count(rng, seconds, 900.0)):
        dur = float(rng.uniform(60, 180))
        t0 = float(rng.uniform(0, max(1.0, seconds - dur)))
        w = _bump(t, t0, dur * 0.25, dur * 0.5, dur * 0.25)
        gust, dust = float(rng.uniform(6, 10)), float(rng.uniform(80, 200))
        wind_add += gust * w
        for sid, _ in STATIONS:
            add[sid] += 0.3 * dust * w
            coarse[sid] += 0.7 * dust * w
        events.append(Event("wind_gust", t0, t0 + dur, {sid: 0.3 * dust for sid, _ in STATIONS},
                            {"gust_mps": gust}))
    for _ in range(_count(rng, seconds, 2400.0)):
        dur = float(rng.uniform(300, 900))
        t0 = float(rng.uniform(0, max(1.0, seconds - dur)))
        w = _bump(t, t0, 60.0, max(0.0, dur - 180.0), 120.0)
        peak_rh = float(rng.uniform(93, 99))
        humid = np.maximum(humid, w * peak_rh)
        washout = np.maximum(washout, 0.6 * w)
        events.append(Event("rain_spell", t0, t0 + dur, {sid: -0.6 * 25.0 for sid, _ in STATIONS},
                            {"humidity_pct": peak_rh}))
    events.sort(key=lambda e: e.t_start_s)
    values: dict[str, np.ndarray] = {}
    for sid, _ in STATIONS:
        pm25 = np.clip(25.0 + _ar1(rng, n, 4.0) + add[sid], 2.0, None) * (1 - washout)
        pm10 = np.clip(pm25 * 1.7 + 10.0 + _ar1(rng, n, 5.0) + coarse[sid] * (1 - washout), pm25, None)
        temp = 18.0 + 4.0 * t / 86400.0 + _ar1(rng, n, 0.3) - 2.0 * (humid > 0) * (humid / 100.0)
        base_rh = np.clip(55.0 + _ar1(rng, n, 3.0), 20.0, 85.0)
        rh = np.clip(np.maximum(base_rh, humid + rng.normal(0, 0.5, n)), 0.0, 100.0)
        wind = np.clip(2.5 + _ar1(rng, n, 0.6) + wind_add, 0.0, None)
        wdir = np.mod(240.0 + _ar1(rng, n, 15.0), 360.0)
        values[sid] = np.column_stack([pm25, pm10, temp, rh, wind, wdir])
    return AirRun(seconds=float(seconds), seed=int(seed), rate_hz=float(rate_hz), t_s=t, values=values,
                  events=events)
