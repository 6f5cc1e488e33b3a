"""Normal operation of a blast furnace: ten channels with drift, operating changes and sensor noise.

Everything is vectorised over time; rates and time constants are in seconds so that any sample rate
gives the same physics. One device is one furnace (or one furnace section) with its own operating point.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.signal import lfilter

__all__ = ["CHANNELS", "UNITS", "NOISE", "Channel", "normal_operation", "add_noise"]


@dataclass(frozen=True, slots=True)
class Channel:
    name: str
    unit: str
    base: float
    noise: float  # sensor noise, one standard deviation per sample


_SPECS = (
    Channel("hot_blast_temp", "degC", 1150.0, 2.0),
    Channel("hot_blast_pressure", "kPa", 370.0, 1.2),
    Channel("blast_flow", "Nm3/min", 4800.0, 12.0),
    Channel("top_gas_pressure", "kPa", 230.0, 0.8),
    Channel("top_gas_temp", "degC", 150.0, 2.5),
    Channel("permeability_index", "1", 1.0, 0.012),
    Channel("gas_utilisation", "%", 48.0, 0.25),
    Channel("cooling_water_in_temp", "degC", 32.0, 0.12),
    Channel("cooling_water_out_temp", "degC", 40.0, 0.12),
    Channel("stave_temp", "degC", 65.0, 0.5),
)
CHANNELS: tuple[str, ...] = tuple(c.name for c in _SPECS)
"""Channel order of every array, model input and recording column."""
UNITS: dict[str, str] = {c.name: c.unit for c in _SPECS}
NOISE = np.array([c.noise for c in _SPECS], dtype=np.float64)
_IDX = {name: i for i, name in enumerate(CHANNELS)}
_K_PERM = 4800.0 / (370.0 - 230.0)  # permeability index 1.0 at the nominal operating point


def idx(name: str) -> int:
    """Column of channel ``name``."""
    return _IDX[name]


def _ar1(rng: np.random.Generator, n: int, dt: float, tau_s: float, std: float) -> np.ndarray:
    """A stationary AR(1) (Ornstein-Uhlenbeck) series with time constant ``tau_s`` and std ``std``."""
    phi = np.exp(-dt / tau_s)
    e = rng.standard_normal(n) * std * np.sqrt(1.0 - phi * phi)
    e[0] = rng.standard_normal() * std
    return lfilter([1.0], [1.0, -phi], e)


def _steps(rng: np.random.Generator, t: np.ndarray, mean_gap_s: float, size: float, ramp_s: float) -> np.ndarray:
    """Operator set-point changes: random steps of about ``size`` at Poisson times, ramped over ``ramp_s``."""
    out = np.zeros_like(t)
    level, at = 0.0, rng.exponential(mean_gap_s)
    while at < t[-1]:
        new = float(np.clip(level + rng.normal(0.0, size), -2.5 * size, 2.5 * size))
        out += (new - level) * np.clip((t - at) / ramp_s, 0.0, 1.0)
        level, at = new, at + rng.exponential(mean_gap_s)
    return out


def normal_operation(rng: np.random.Generator, t: np.ndarray) -> np.ndarray:
    """Noise-free normal operation of one furnace: ``(len(t), 10)`` float64 values.

    Includes the device's own operating point, slow drift, operator load changes (blast flow and pressure
    move together, so permeability stays put), hot-stove changeovers (hot blast temperature dips), burden
    charging cycles (top gas temperature saw-tooth) and the daily cycle of the cooling water.
    """
    n = t.size
    dt = float(t[1] - t[0]) if n > 1 else 1.0
    x = np.empty((n, len(CHANNELS)), dtype=np.float64)
    load = _ar1(rng, n, dt, 3600.0, 0.015) + _steps(rng, t, 2400.0, 0.03, 60.0)
    perm = 1.0 + rng.normal(0.0, 0.03) + _ar1(rng, n, dt, 1800.0, 0.02)

    flow = 4800.0 * (1.0 + rng.normal(0.0, 0.03)) * (1.0 + load)
    top_p = 230.0 * (1.0 + rng.normal(0.0, 0.03)) * (1.0 + 0.4 * load)
    hb_p = top_p + flow / (_K_PERM * perm)

    period = rng.uniform(2400.0, 3600.0)
    phase = rng.uniform(0.0, period)
    since = np.mod(t + phase, period)  # seconds since the last stove changeover
    dip = rng.uniform(12.0, 25.0) * np.where(since < 30.0, since / 30.0, np.exp(-(since - 30.0) / 90.0))
    hb_t = 1150.0 + rng.normal(0.0, 10.0) + _ar1(rng, n, dt, 1200.0, 4.0) - dip

    charge = rng.uniform(300.0, 480.0)
    saw = np.mod(t + rng.uniform(0.0, charge), charge) / charge
    top_t = 150.0 + rng.normal(0.0, 8.0) + 12.0 * (saw - 0.5) + _ar1(rng, n, dt, 900.0, 3.0)

    day = 2.0 * np.pi * (t / 86400.0) + rng.uniform(0.0, 2.0 * np.pi)
    cw_in = 32.0 + rng.normal(0.0, 1.0) + 2.0 * np.sin(day) + _ar1(rng, n, dt, 1800.0, 0.2)
    cw_delta = 8.0 * (1.0 + rng.normal(0.0, 0.05)) * (1.0 + 0.5 * load) + _ar1(rng, n, dt, 900.0, 0.1)

    x[:, idx("hot_blast_temp")] = hb_t
    x[:, idx("hot_blast_pressure")] = hb_p
    x[:, idx("blast_flow")] = flow
    x[:, idx("top_gas_pressure")] = top_p + 1.5 * np.sin(2 * np.pi * saw)
    x[:, idx("top_gas_temp")] = top_t
    x[:, idx("permeability_index")] = perm
    x[:, idx("gas_utilisation")] = 48.0 + rng.normal(0.0, 0.8) + _ar1(rng, n, dt, 2400.0, 0.4)
    x[:, idx("cooling_water_in_temp")] = cw_in
    x[:, idx("cooling_water_out_temp")] = cw_in + cw_delta
    x[:, idx("stave_temp")] = 65.0 + rng.normal(0.0, 2.0) + 0.6 * (cw_in - 32.0) + _ar1(rng, n, dt, 1800.0, 0.8)
    return x


def add_noise(rng: np.random.Generator, x: np.ndarray, spike_prob: float = 2e-4) -> np.ndarray:
    """Sensor noise plus rare single-sample spikes (glitches of 5-10 sigma), in place; returns ``x``."""
    x += rng.standard_normal(x.shape) * NOISE
    spikes = rng.random(x.shape) < spike_prob
    if spikes.any():
        sign = rng.choice([-1.0, 1.0], size=int(spikes.sum()))
        x[spikes] += sign * rng.uniform(5.0, 10.0, size=sign.size) * np.broadcast_to(NOISE, x.shape)[spikes]
    return x
