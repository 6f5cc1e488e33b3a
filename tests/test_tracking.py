"""Kalman filter, Hungarian association, track lifecycle, time alignment, engine snapshot/restore."""

from __future__ import annotations

import json

import numpy as np

from rsu_sdk import Detections, RadarObject, RadarScan

from rsu.fusion import kalman
from rsu.fusion.align import Aligner
from rsu.fusion.associate import camera_radar_cost, solve, track_cost
from rsu.fusion.classes import CLASSES
from rsu.fusion.measurements import Measurements
from rsu.fusion.tracker import CONFIRMED, LOST, Tracker, TrackerParams

PED, CAR = CLASSES.index("pedestrian"), CLASSES.index("car")


def _meas(pos, cls=CAR, vel=None, cam=True) -> Measurements:
    pos = np.asarray(pos, float).reshape(-1, 2)
    m = len(pos)
    v = np.full((m, 2), np.nan) if vel is None else np.asarray(vel, float).reshape(-1, 2)
    return Measurements(pos, np.full(m, 0.09), v, np.full(m, 0.04), np.full(m, cls, np.int64), np.full(m, 0.8),
                        np.full(m, cam), np.full(m, not cam), np.full((m, 3), np.nan), np.ones(m, np.int64))


def test_kalman_converges_to_constant_velocity() -> None:
    x, p = np.zeros((1, 4)), kalman.initial_covariance(np.array([1.0]), np.array([25.0]))
    rng = np.random.default_rng(0)
    for k in range(1, 60):
        x, p = kalman.predict(x, p, 0.1, 0.5)
        z = np.array([[2.0 * k * 0.1, -1.0 * k * 0.1]]) + rng.normal(0, 0.1, (1, 2))
        x, p = kalman.update(x, p, z, np.array([[0.01, 0.01]]))
    assert np.allclose(x[0, 2:], [2.0, -1.0], atol=0.2)
    assert np.all(np.linalg.eigvalsh(p[0]) > 0)


def test_hungarian_prefers_global_optimum_and_respects_gates() -> None:
    cost = np.array([[1.0, 2.0], [1.1, 10.0], [np.inf, np.inf]])
    r, c = solve(cost)
    assert sorted(zip(r.tolist(), c.tolist())) == [(0, 1), (1, 0)]
    tc = track_cost(np.array([[0.0, 0.0], [10.0, 0.0]]), np.array([0.1, 0.1]), np.array([CAR, PED]),
                    np.array([[0.3, 0.0], [10.2, 0.0]]), np.array([0.1, 0.1]), np.array([CAR, CAR]),
                    np.array([3.0, 3.0]))
    assert np.isfinite(tc[0, 0]) and np.isinf(tc[1, 1]) and np.isinf(tc[0, 1])  # ped vs car never pairs
    cc = camera_radar_cost(np.array([[0.0, 0.0]]), np.array([CAR]), np.array([[0, 0, 10, 10.0]]),
                           np.array([[0.5, 0.0], [1.0, 0.0]]), np.array([CAR, CAR]),
                           np.array([[50, 50, 60, 60.0], [0, 0, 10, 10.0]]), np.array([3.0]))
    assert solve(cc)[1].tolist() == [1]  # the image IoU outweighs 0.5 m of ground distance


def test_lifecycle_ids_and_deletion() -> None:
    tr = Tracker(TrackerParams(confirm_hits=3, lost_after_s=0.25, delete_after_s=0.6, publish_lost_s=0.3))
    t = 0
    for k in range(4):
        t = k * 100_000_000
        tr.step(t, _meas([[k * 1.0, 0.0], [0.0, 50.0 + 0.1 * k]]))
    assert len(tr) == 2 and set(tr.state.tolist()) == {CONFIRMED} and tr.ids.tolist() == [1, 2]
    assert abs(tr.x[0, 2] - 10.0) < 2.5  # velocity estimated from positions
    for k in range(4, 7):  # object 2 disappears
        t = k * 100_000_000
        tr.step(t, _meas([[k * 1.0, 0.0]]))
    assert tr.state.tolist() == [CONFIRMED, LOST] and len(tr.published()) == 2
    for k in range(7, 12):
        tr.step(k * 100_000_000, _meas([[k * 1.0, 0.0]]))
    assert tr.ids.tolist() == [1] and tr.published().tolist() == [0]
    tr.step(12 * 100_000_000, _meas([[12.0, 0.0], [30.0, 30.0]]))
    assert tr.ids.tolist() == [1, 3]  # ids are never reused


def test_aligner_pairs_nearest_radar_and_counts_late() -> None:
    def det(t: int) -> Detections:
        return Detections(source="cam", t_event_ns=t, frame_id=0, xyxy=np.zeros((0, 4)), confidence=[],
                          class_id=[], class_names=("car",), image_size=(10, 10))

    def scan(t: int) -> RadarScan:
        return RadarScan(source="radar", t_event_ns=t, cycle=t)

    ms = 1_000_000
    al = Aligner(100 * ms, 40 * ms, 1000 * ms)
    out = []
    for item in (det(30 * ms), scan(0), scan(70 * ms), det(130 * ms), scan(140 * ms), det(230 * ms),
                 scan(210 * ms), scan(280 * ms), det(330 * ms), scan(350 * ms), det(430 * ms), scan(420 * ms)):
        out += al.push(item)
    out += al.push(det(50 * ms))  # long released: late
    out += al.flush()
    assert al.counts["late"] == 1
    times = [c.t_ns for c in out]
    assert times == sorted(times)
    pairs = {c.camera.t_event_ns // ms: c.radar.t_event_ns // ms for c in out if c.camera is not None and c.radar is not None}
    assert pairs == {30: 0, 130: 140, 230: 210, 330: 350, 430: 420}
    alone = [c.radar.t_event_ns // ms for c in out if c.camera is None]
    assert alone == [70, 280]


def test_engine_snapshot_restore_continues_identically(tmp_path) -> None:
    from rsu.eval.intersection import run_engine  # noqa: F401  (imports the same engine the eval uses)
    from rsu.config import load_config
    from rsu.fusion import FusionEngine
    from rsu.sim.intersection import simulate
    from rsu.sources.replay import iter_products

    simulate(tmp_path, 6.0, 5)
    cfg = load_config(tmp_path / "config.yaml")
    products = list(iter_products(tmp_path))

    def feed(engine: FusionEngine, items) -> list:
        out = []
        for p in items:
            out += engine.on_detections(p) if isinstance(p, Detections) else engine.on_radar(p)
        return out

    a = FusionEngine.from_config(cfg)
    full = feed(a, products) + a.flush()
    b = FusionEngine.from_config(cfg)
    half = len(products) // 2
    first = feed(b, products[:half])
    snap = json.loads(json.dumps(b.snapshot()))
    c = FusionEngine.from_config(cfg)
    c.restore(snap)
    resumed = first + feed(c, products[half:]) + c.flush()
    assert len(full) == len(resumed) and len(full) > 50
    assert full == resumed
    assert any(o.sources == ("cam-1", "radar-1") for ol in full for o in ol.objects)
