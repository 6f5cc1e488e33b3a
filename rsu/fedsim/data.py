"""A box's own training data: labelled windows of its furnaces, normalised with the global model's statistics.

Boxes differ in what they see: :func:`simulated_box_data` keeps only the fault ``kinds`` a box's plant has
(windows near other kinds of faults are left out, as if those never happened there), which is the non-IID
setting federated averaging has to cope with. :func:`recording_data` reads a recording folder
(``rsu simulate furnace --out DIR``: ``readings.csv`` + ``truth.json``).
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from rsu.modeltools.fault_data import WindowSet
from rsu.pipeline.windows import detrend
from rsu.sim.furnace import CHANNELS, FAULT_KINDS, FurnaceSettings, simulate_run
from rsu.sim.furnace.faults import RECOVERY_S, Episode

__all__ = ["simulated_box_data", "recording_data", "windows_from_series"]


def _labels(t_s: np.ndarray, episodes: Iterable[Episode], kinds: frozenset[str], onset: float,
            window: int, rate_hz: float) -> np.ndarray:
    y = np.zeros(t_s.size, dtype=np.float32)
    for ep in episodes:
        if ep.kind not in kinds:  # not part of this box's world: leave it out entirely
            y[(t_s >= ep.precursor_start_s - window / rate_hz) & (t_s <= ep.fault_end_s + 6 * RECOVERY_S)] = -1.0
            continue
        sure = ep.precursor_start_s + onset * (ep.fault_start_s - ep.precursor_start_s)
        y[(t_s > ep.fault_end_s) & (t_s <= ep.fault_end_s + RECOVERY_S)] = -1.0
        y[(t_s >= ep.precursor_start_s) & (t_s < sure)] = -1.0
        y[(t_s >= sure) & (t_s <= ep.fault_end_s)] = 1.0
    return y


def windows_from_series(series: Sequence[tuple[np.ndarray, np.ndarray]], meta: Mapping[str, Any]) -> WindowSet:
    """``(raw (n, 10) values, labels (n,))`` per device -> every labelled window (label -1 = left out)."""
    window, rate, tau = int(meta["window"]), float(meta.get("rate_hz", 1.0)), float(meta["baseline_tau_s"])
    mean, std = np.asarray(meta["mean"], np.float64), np.asarray(meta["std"], np.float64)
    xs, rows, targets = [], [], []
    for k, (raw, y) in enumerate(series):
        xs.append(((detrend(raw, rate, tau) - mean) / std).astype(np.float32))
        ends = np.arange(window - 1, y.size)
        ends = ends[y[ends] >= 0]
        rows.append(np.stack([np.full(ends.size, k), ends], axis=1))
        targets.append(y[ends])
    index = np.concatenate(rows).astype(np.int64) if rows else np.zeros((0, 2), np.int64)
    target = np.concatenate(targets).astype(np.float32) if targets else np.zeros(0, np.float32)
    return WindowSet(series=xs, index=index, target=target, mean=mean, std=std, window=window)


def simulated_box_data(seeds: Sequence[int], meta: Mapping[str, Any], *, kinds: Iterable[str] = FAULT_KINDS,
                       seconds: float = 28_800.0, devices: int = 3, fault_gap_s: float = 1200.0,
                       onset: float = 0.3) -> WindowSet:
    """Windows of simulated furnaces (``seeds``) whose only faults are ``kinds``."""
    keep = frozenset(kinds)
    unknown = keep - set(FAULT_KINDS)
    if unknown:
        raise ValueError(f"kinds: unknown fault kinds {sorted(unknown)}; known: {', '.join(FAULT_KINDS)}")
    rate = float(meta.get("rate_hz", 1.0))
    series = []
    for seed in seeds:
        run = simulate_run(int(seed), FurnaceSettings(seconds=seconds, devices=devices, rate_hz=rate,
                                                      fault_gap_s=fault_gap_s))
        for dev in run.devices:
            eps = [e for e in run.episodes if e.device == dev]
            series.append((run.values[dev], _labels(run.t_s, eps, keep, onset, int(meta["window"]), rate)))
    return windows_from_series(series, meta)


def recording_data(folder: str | Path, meta: Mapping[str, Any], *, onset: float = 0.3) -> WindowSet:
    """Windows of a furnace recording folder (``readings.csv`` and ``truth.json``)."""
    from rsu.sim.furnace import read_truth

    folder = Path(folder)
    truth = read_truth(folder)
    t0, rate = int(truth["t0_ns"]), float(truth.get("rate_hz", 1.0))
    per_dev: dict[str, tuple[list[float], list[list[float]]]] = {}
    path = folder / str(truth.get("readings", "readings.csv"))
    with path.open(encoding="utf-8", newline="") as fh:
        reader = csv.reader(fh)
        head = next(reader)
        try:
            cols = [head.index(c) for c in CHANNELS]
        except ValueError:
            raise ValueError(f"{path}: header must name t_event_ns, device and {', '.join(CHANNELS)}") from None
        for line, row in enumerate(reader, start=2):
            try:
                t, values = (int(row[0]) - t0) / 1e9, [float(row[c]) for c in cols]
            except (ValueError, IndexError):
                raise ValueError(f"{path}:{line}: not a reading row") from None
            ts, xs = per_dev.setdefault(row[1], ([], []))
            ts.append(t)
            xs.append(values)
    eps = [Episode(str(e["device"]), str(e["kind"]), float(e["precursor_start_s"]), float(e["fault_start_s"]),
                   float(e["fault_end_s"])) for e in truth["episodes"]]
    series = []
    for dev, (ts, xs) in per_dev.items():
        t_s = np.asarray(ts)
        mine = [e for e in eps if e.device == dev]
        series.append((np.asarray(xs), _labels(t_s, mine, frozenset(FAULT_KINDS), onset, int(meta["window"]), rate)))
    return windows_from_series(series, meta)
