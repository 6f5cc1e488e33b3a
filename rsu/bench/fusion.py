"""``rsu bench fusion``: per-cycle time of association + tracking (camera-radar pairing with the image-IoU
term, track association, Kalman predict/update, lifecycle) at 10 to 500 objects.

Objects move at constant velocity over an area that grows with their number (about 20 m between
neighbours); each cycle has a camera and a radar measurement of most objects plus false alarms. The
baseline, measured in the same run, is one bare ``scipy.optimize.linear_sum_assignment`` on a dense cost
matrix of the same size; ``ratio`` = cycle p50 / baseline p50.
"""

from __future__ import annotations

import os
import platform
import time
from typing import Any

import numpy as np
from scipy.optimize import linear_sum_assignment

from rsu.bench.timing import summary_ms
from rsu.fusion.calibration import CameraModel
from rsu.fusion.classes import SIZES
from rsu.fusion.engine import EngineSettings, FusionEngine
from rsu.fusion.measurements import Measurements

__all__ = ["run"]

SIZES_N = (10, 50, 100, 200, 500)
_DT_NS = 100_000_000


def _top_down_camera(half: float) -> CameraModel:
    """A synthetic camera looking straight down (10 px/m) so that every object has an image box."""
    s = 10.0
    h = np.array([[s, 0, s * half], [0, -s, s * half], [0, 0, 1.0]])
    size = int(2 * s * half) + 1
    return CameraModel(h=h, h_inv=np.linalg.inv(h), image_size=(size, size), foot=None, max_range_m=1e9)


def _meas(pos: np.ndarray, vel: np.ndarray | None, cls: np.ndarray, sd: float, radar: bool,
          model: CameraModel | None) -> Measurements:
    m = len(pos)
    boxes = None
    if not radar and model is not None:
        boxes = model.project_boxes(pos, SIZES[cls], np.zeros(m))
    return Measurements(pos, np.full(m, sd * sd), vel if vel is not None else np.full((m, 2), np.nan),
                        np.full(m, 0.16 if radar else np.nan), cls, np.full(m, 0.9), np.full(m, not radar),
                        np.full(m, radar), np.full((m, 3), np.nan), np.full(m, 2 if radar else 1, np.int64), boxes)


def _cycle_times(n: int, cycles: int, warmup: int, seed: int) -> tuple[np.ndarray, int]:
    rng = np.random.default_rng(seed)
    half = 10.0 * np.sqrt(n) + 20
    pos = rng.uniform(-half + 10, half - 10, (n, 2))
    vel = rng.normal(0, 5.0, (n, 2))
    cls = rng.choice([0, 1, 2, 3], size=n, p=[0.6, 0.1, 0.2, 0.1]).astype(np.int64)
    model = _top_down_camera(half)
    engine = FusionEngine(EngineSettings(mode="fused"), {}, {}, (48.0, 11.0, 0.0))
    out = np.empty(cycles)
    for k in range(warmup + cycles):
        t_ns = k * _DT_NS
        pos = pos + vel * 0.1
        bounce = np.abs(pos) > half - 5
        vel[bounce] *= -1
        seen_c = rng.random(n) > 0.05
        seen_r = rng.random(n) > 0.05
        cam = _meas(np.r_[pos[seen_c] + rng.normal(0, 0.3, (seen_c.sum(), 2)), rng.uniform(-half, half, (2, 2))],
                    None, np.r_[cls[seen_c], [0, 2]], 0.5, False, model)
        radar = _meas(pos[seen_r] + rng.normal(0, 0.2, (seen_r.sum(), 2)),
                      vel[seen_r] + rng.normal(0, 0.2, (seen_r.sum(), 2)), cls[seen_r], 0.35, True, None)
        t0 = time.perf_counter_ns()
        fused = engine.fuse(cam, radar, model)
        engine.tracker.step(t_ns, fused, model.in_view)
        dt = (time.perf_counter_ns() - t0) / 1e6
        if k >= warmup:
            out[k - warmup] = dt
    return out, len(engine.tracker)


def _baseline(n: int, repeat: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    out = np.empty(repeat)
    for i in range(repeat):
        cost = rng.random((n, n))
        t0 = time.perf_counter_ns()
        linear_sum_assignment(cost)
        out[i] = (time.perf_counter_ns() - t0) / 1e6
    return out


def run(quick: bool = False) -> dict[str, Any]:
    cycles, warmup = (40, 10) if quick else (400, 30)
    objects: dict[str, Any] = {}
    for n in SIZES_N:
        reps = cycles if n <= 200 else max(20, cycles // 4)
        times, tracks = _cycle_times(n, reps, warmup, seed=n)
        base = _baseline(n, reps, seed=n + 1)
        s, b = summary_ms(times), summary_ms(base)
        objects[str(n)] = {**s, "tracks": tracks, "baseline_lsa_p50_ms": b["p50_ms"],
                           "baseline_lsa_p99_ms": b["p99_ms"],
                           "ratio": round(s["p50_ms"] / b["p50_ms"], 2) if b["p50_ms"] > 0 else None}
    hundred = objects["100"]
    return {
        "target": "fusion", "objects": objects,
        "baseline": "scipy.optimize.linear_sum_assignment on a dense NxN random cost matrix, same run",
        "p99_100_objects_ms": hundred["p99_ms"], "meets_1ms_p99_at_100": hundred["p99_ms"] <= 1.0,
        "quick": quick, "cpu_count": os.cpu_count(), "python": platform.python_version(),
        "note": "single thread; pinning to one core is not enforced",
    }
