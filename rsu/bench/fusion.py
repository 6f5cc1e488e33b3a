"""``rsu bench fusion``: per-cycle time of association + tracking at 10 to 500 objects.

Each cycle runs the engine's own stages on one camera frame and one radar cycle, timed apart:
- input: ``Detections`` / ``RadarScan`` -> ENU measurements (``input_*``),
- association + tracking (the headline ``p50_ms`` / ``p99_ms``): camera-radar pairing with the image-IoU
  term, track association, Kalman predict/update, births, duplicate merging, lifecycle, camera veto,
- output: the published tracks as ``FusedObject`` values with WGS84 positions (``output_*``);
``cycle_*`` is the sum. The engine runs with the ``fusion`` config defaults (fused mode).

Objects move at constant velocity over an area that grows with their number (about 20 m between
neighbours), seen from above by a synthetic camera (10 px/m); each cycle has a camera detection and a
radar object of most objects (95 % each) plus two false camera detections. The baseline, measured in the
same run, is one bare ``scipy.optimize.linear_sum_assignment`` on a dense cost matrix of the same size;
``ratio`` = association + tracking p50 / baseline p50.
"""

from __future__ import annotations

import os
import platform
import time
from typing import Any

import numpy as np
from scipy.optimize import linear_sum_assignment

from rsu_sdk import Detections, RadarObject, RadarScan

from rsu.bench.timing import summary_ms
from rsu.config.fusion import FusionConfig
from rsu.fusion.calibration import CameraModel
from rsu.fusion.classes import CLASSES, SIZES
from rsu.fusion.engine import EngineSettings, FusionEngine
from rsu.fusion.geometry import RadarMount

__all__ = ["run"]

SIZES_N = (10, 50, 100, 200, 500)
_DT_NS = 100_000_000
_PX_PER_M = 10.0
_NAMES = CLASSES[:4]  # car, truck, pedestrian, bicycle: the detector's label map and the radar's classes


def _top_down_camera(half: float) -> CameraModel:
    """A synthetic camera looking straight down (10 px/m) so that every object has an image box."""
    s = _PX_PER_M
    h = np.array([[s, 0, s * half], [0, -s, s * half], [0, 0, 1.0]])
    size = int(2 * s * half) + 1
    return CameraModel(h=h, h_inv=np.linalg.inv(h), image_size=(size, size), foot=None, max_range_m=1e9)


def _detections(model: CameraModel, pos: np.ndarray, cls: np.ndarray, t_ns: int, frame: int) -> Detections:
    """Boxes of the objects' projected 3D boxes, moved so that the bottom centre lies at ``pos``."""
    boxes = model.project_boxes(pos, SIZES[cls], np.zeros(len(pos)))
    bottom_v = model.ground_to_image(pos)[:, 1]
    boxes[:, [1, 3]] += (bottom_v - boxes[:, 3])[:, None]
    return Detections(source="cam", t_event_ns=t_ns, frame_id=frame, xyxy=boxes, confidence=np.full(len(pos), 0.9),
                      class_id=cls, class_names=_NAMES, image_size=model.image_size)


def _scan(pos: np.ndarray, vel: np.ndarray, cls: np.ndarray, t_ns: int, cycle: int) -> RadarScan:
    """A radar at the origin looking North (x ahead = north, y left = west)."""
    objs = tuple(RadarObject(object_id=k, dist_long=n, dist_lat=-e, vrel_long=vn, vrel_lat=-ve,
                             class_name=_NAMES[c], prob_exist=0.9)
                 for k, (e, n, ve, vn, c) in enumerate(zip(*pos.T.tolist(), *vel.T.tolist(), cls.tolist())))
    return RadarScan(source="radar", t_event_ns=t_ns, cycle=cycle, objects=objs)


def _cycle_times(n: int, cycles: int, warmup: int, seed: int) -> tuple[dict[str, np.ndarray], int]:
    """Milliseconds per cycle of each stage (``input``, ``associate_track``, ``output``, ``cycle``)."""
    rng = np.random.default_rng(seed)
    half = 10.0 * np.sqrt(n) + 20
    pos = rng.uniform(-half + 10, half - 10, (n, 2))
    vel = rng.normal(0, 5.0, (n, 2))
    cls = rng.choice([0, 1, 2, 3], size=n, p=[0.6, 0.1, 0.2, 0.1]).astype(np.int64)
    model = _top_down_camera(half)
    engine = FusionEngine(EngineSettings.from_config(FusionConfig(), "fused"), {"cam": model},
                          {"radar": RadarMount()}, (48.0, 11.0, 0.0))
    out = {k: np.empty(cycles) for k in ("input", "associate_track", "output", "cycle")}
    for k in range(warmup + cycles):
        t_ns = k * _DT_NS
        pos = pos + vel * 0.1
        bounce = np.abs(pos) > half - 5
        vel[bounce] *= -1
        seen_c = rng.random(n) > 0.05
        seen_r = rng.random(n) > 0.05
        det = _detections(model, np.r_[pos[seen_c] + rng.normal(0, 0.3, (seen_c.sum(), 2)),
                                       rng.uniform(-half, half, (2, 2))], np.r_[cls[seen_c], [0, 2]], t_ns, k)
        scan = _scan(pos[seen_r] + rng.normal(0, 0.2, (seen_r.sum(), 2)),
                     vel[seen_r] + rng.normal(0, 0.2, (seen_r.sum(), 2)), cls[seen_r], t_ns, k)
        t0 = time.perf_counter_ns()
        cam = engine.camera_measurements(det)
        radar = engine.radar_measurements(scan, t_ns)
        t1 = time.perf_counter_ns()
        fused = engine.fuse(cam, radar, model)
        engine.tracker.step(t_ns, fused, model.in_view)
        t2 = time.perf_counter_ns()
        engine.object_list(t_ns)
        t3 = time.perf_counter_ns()
        if k >= warmup:
            i = k - warmup
            for key, a, b in (("input", t0, t1), ("associate_track", t1, t2), ("output", t2, t3), ("cycle", t0, t3)):
                out[key][i] = (b - a) / 1e6
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
        s, b = summary_ms(times["associate_track"]), summary_ms(base)
        stages = {f"{stage}_{key}": v for stage in ("input", "output", "cycle")
                  for key, v in summary_ms(times[stage]).items() if key in ("p50_ms", "p99_ms")}
        objects[str(n)] = {**s, **stages, "tracks": tracks, "baseline_lsa_p50_ms": b["p50_ms"],
                           "baseline_lsa_p99_ms": b["p99_ms"],
                           "ratio": round(s["p50_ms"] / b["p50_ms"], 2) if b["p50_ms"] > 0 else None}
    hundred = objects["100"]
    return {
        "target": "fusion", "objects": objects,
        "baseline": "scipy.optimize.linear_sum_assignment on a dense NxN random cost matrix, same run",
        "p99_100_objects_ms": hundred["p99_ms"], "meets_1ms_p99_at_100": hundred["p99_ms"] <= 1.0,
        "quick": quick, "cpu_count": os.cpu_count(), "python": platform.python_version(),
        "note": "single thread; pinning to one core is not enforced; p50_ms/p99_ms: association + tracking",
    }
