"""Per-device keyed sliding windows over sensor readings, in event order.

Each device keeps a small plain state: a ring buffer of the last ``window`` samples and a slow exponential
baseline per channel. What the window holds is each sample's deviation from the device's own baseline
(``x_t - b_{t-1}``, then ``b_t = b_{t-1} + a (x_t - b_{t-1})`` with ``a = 1 - exp(-dt / tau_s)``), so that the
fault model sees how a furnace departs from its own operating point, not where that point lies.
:func:`detrend` is the same computation over a whole recording (training uses it).

State is plain data: :meth:`DeviceWindows.snapshot` returns JSON-able dicts and :meth:`restore` takes them
back, so a keyed stream operator can hold it per key.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from scipy.signal import lfilter

from rsu_sdk import SensorReading

__all__ = ["DeviceWindows", "DeviceState", "detrend"]


def detrend(x: np.ndarray, rate_hz: float, tau_s: float) -> np.ndarray:
    """Deviations from the exponential baseline for a regularly sampled ``(n, channels)`` series."""
    x = np.asarray(x, dtype=np.float64)
    if tau_s <= 0:
        return x.copy()
    a = 1.0 - math.exp(-1.0 / (rate_hz * tau_s))
    # b_t = (1 - a) b_{t-1} + a x_t, with b_{-1} = x_0  ->  filter the offsets from x_0
    b = lfilter([a], [1.0, -(1.0 - a)], x - x[0], axis=0) + x[0]
    prev = np.vstack([x[:1], b[:-1]])
    return x - prev


class DeviceState:
    """One device's window: ``buf`` (ring of deviations), ``count`` samples seen, ``baseline``, ``last_ns``."""

    __slots__ = ("buf", "pos", "count", "baseline", "last_ns")

    def __init__(self, window: int, channels: int) -> None:
        self.buf = np.zeros((window, channels), dtype=np.float32)
        self.pos = 0
        self.count = 0
        self.baseline: np.ndarray | None = None
        self.last_ns: int | None = None

    def ordered(self) -> np.ndarray:
        """The window, oldest sample first (a copy)."""
        return np.concatenate([self.buf[self.pos:], self.buf[:self.pos]])

    def to_dict(self) -> dict[str, Any]:
        return {"window": self.ordered().tolist(), "count": self.count, "last_ns": self.last_ns,
                "baseline": None if self.baseline is None else self.baseline.tolist()}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], window: int, channels: int) -> DeviceState:
        st = cls(window, channels)
        buf = np.asarray(data["window"], dtype=np.float32)
        if buf.shape != (window, channels):
            raise ValueError(f"window state: expected shape {(window, channels)}, got {buf.shape}")
        st.buf[:] = buf
        st.count = int(data["count"])
        st.last_ns = None if data.get("last_ns") is None else int(data["last_ns"])
        base = data.get("baseline")
        st.baseline = None if base is None else np.asarray(base, dtype=np.float64)
        return st


class DeviceWindows:
    """Sliding windows keyed by ``SensorReading.device``.

    :param channels: the channel names, in model input order.
    :param window: samples per window.
    :param stride: emit a window every ``stride`` samples once full (1 = every sample).
    :param tau_s: time constant of the per-device baseline; 0 keeps raw values.
    :param channel_map: optional model channel -> reading key, for plants that name channels differently.
    """

    def __init__(self, channels: Sequence[str], *, window: int, stride: int = 1, tau_s: float = 0.0,
                 channel_map: Mapping[str, str] | None = None) -> None:
        if window < 1 or stride < 1:
            raise ValueError(f"window and stride must be >= 1, got window={window}, stride={stride}")
        self.channels = tuple(channels)
        self.keys = tuple((channel_map or {}).get(c, c) for c in self.channels)
        self.window, self.stride, self.tau_s = int(window), int(stride), float(tau_s)
        self.states: dict[str, DeviceState] = {}
        self.counts = {"readings": 0, "windows": 0, "missing_channels": 0, "not_finite": 0, "out_of_order": 0}

    def push(self, reading: SensorReading) -> np.ndarray | None:
        """Add one reading; return the device's window ``(window, channels)`` float32 when one is due."""
        self.counts["readings"] += 1
        try:
            x = np.fromiter((reading.values[k] for k in self.keys), dtype=np.float64, count=len(self.keys))
        except KeyError:
            self.counts["missing_channels"] += 1
            return None
        if not np.isfinite(x).all():
            self.counts["not_finite"] += 1
            return None
        st = self.states.get(reading.device)
        if st is None:
            st = self.states[reading.device] = DeviceState(self.window, len(self.keys))
        t = int(reading.t_event_ns)
        if st.last_ns is not None and t <= st.last_ns:
            self.counts["out_of_order"] += 1
            return None
        if self.tau_s > 0:
            if st.baseline is None:
                st.baseline = x.copy()
            dev = x - st.baseline
            dt = 0.0 if st.last_ns is None else (t - st.last_ns) / 1e9
            st.baseline += (1.0 - math.exp(-dt / self.tau_s)) * dev
        else:
            dev = x
        st.last_ns = t
        st.buf[st.pos] = dev
        st.pos = (st.pos + 1) % self.window
        st.count += 1
        if st.count < self.window or (st.count - self.window) % self.stride:
            return None
        self.counts["windows"] += 1
        return st.ordered()

    def snapshot(self) -> dict[str, Any]:
        """Plain, JSON-able state of every device (and the counters)."""
        return {"devices": {d: s.to_dict() for d, s in self.states.items()}, "counts": dict(self.counts)}

    def restore(self, snap: Mapping[str, Any]) -> None:
        """Replace the state with one :meth:`snapshot` returned."""
        self.states = {d: DeviceState.from_dict(s, self.window, len(self.keys))
                       for d, s in snap.get("devices", {}).items()}
        self.counts.update(snap.get("counts", {}))
