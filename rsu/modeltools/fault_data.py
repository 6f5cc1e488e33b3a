"""Training data for the fault LSTM: windows cut from simulated furnace recordings (numpy only)."""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from rsu.pipeline.windows import detrend
from rsu.sim.furnace import CHANNELS, FurnaceSettings, simulate_run

__all__ = ["DataSettings", "WindowSet", "build_windows", "sample_batch"]


@dataclass(frozen=True, slots=True)
class DataSettings:
    """Which simulated recordings the model learns from (held-out evaluation uses other seeds)."""

    data_seeds: tuple[int, ...] = (101, 102, 103, 104)
    seconds: float = 43_200.0
    devices: int = 3
    rate_hz: float = 1.0
    fault_gap_s: float = 1800.0
    window: int = 60
    baseline_tau_s: float = 1800.0  # per-device exponential baseline the inputs are taken relative to
    label_onset: float = 0.3  # ignore this first fraction of each precursor (too faint to label either way)

    def to_json(self) -> dict[str, object]:
        d = asdict(self)
        d["data_seeds"] = list(self.data_seeds)
        return d


@dataclass(slots=True)
class WindowSet:
    """Every labelled window end of the training recordings.

    :param series: one ``(n, 10)`` float32 array per (seed, device), already normalised.
    :param index: ``(m, 2)`` int64 rows of ``(series number, last sample of the window)``.
    :param target: ``(m,)`` float32 label of the window's last sample.
    """

    series: list[np.ndarray]
    index: np.ndarray
    target: np.ndarray
    mean: np.ndarray
    std: np.ndarray
    window: int


def build_windows(settings: DataSettings) -> WindowSet:
    """Simulate the training recordings, take each device's deviations from its own baseline (as the host's
    :class:`~rsu.pipeline.windows.DeviceWindows` does), compute normalisation statistics, index labelled windows."""
    raw: list[np.ndarray] = []
    labels: list[np.ndarray] = []
    sim = FurnaceSettings(seconds=settings.seconds, devices=settings.devices, rate_hz=settings.rate_hz,
                          fault_gap_s=settings.fault_gap_s)
    for seed in settings.data_seeds:
        run = simulate_run(seed, sim)
        for dev in run.devices:
            raw.append(detrend(run.values[dev], settings.rate_hz, settings.baseline_tau_s))
            labels.append(run.labels(dev, onset=settings.label_onset))
    stacked = np.concatenate(raw).astype(np.float64)
    mean = stacked.mean(axis=0)
    std = np.maximum(stacked.std(axis=0), 1e-6)
    series = [((x - mean) / std).astype(np.float32) for x in raw]
    rows, targets = [], []
    for k, y in enumerate(labels):
        ends = np.arange(settings.window - 1, y.size)
        keep = ends[y[ends] >= 0]
        rows.append(np.stack([np.full(keep.size, k), keep], axis=1))
        targets.append(y[keep])
    assert len(CHANNELS) == series[0].shape[1]
    return WindowSet(series=series, index=np.concatenate(rows).astype(np.int64),
                     target=np.concatenate(targets).astype(np.float32), mean=mean, std=std,
                     window=settings.window)


def sample_batch(ws: WindowSet, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Gather the windows of ``rows`` (indices into ``ws.index``): ``(b, window, 10)`` and ``(b,)``."""
    out = np.empty((rows.size, ws.window, ws.series[0].shape[1]), dtype=np.float32)
    for j, r in enumerate(rows):
        k, end = ws.index[r]
        out[j] = ws.series[k][end - ws.window + 1:end + 1]
    return out, ws.target[rows]
