"""The fast paths of fusion against plain reference computations: candidate pairs, sparse matching, the
sequential Kalman update, the track table, box projection, and the local ENU -> WGS84 polynomial."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.optimize import linear_sum_assignment

from rsu.fusion import kalman
from rsu.fusion.associate import gated_pairs, solve, solve_pairs
from rsu.fusion.calibration import CameraModel
from rsu.fusion.geometry import LocalGeodetic, PinholeCamera, enu_to_wgs84, wgs84_to_enu
from rsu.fusion.tracker import Tracker, TrackerParams
from rsu.fusion.tracks import FIELDS, TrackTable

CAM = PinholeCamera(1100.0, 1100.0, 960.0, 540.0, (-18.0, -18.0, 6.5), 45.0, 9.0)


@pytest.mark.parametrize("n,m", [(7, 9), (120, 130), (0, 5)])  # dense path, sorted sweep, empty
def test_gated_pairs_match_brute_force(n: int, m: int) -> None:
    rng = np.random.default_rng(n + m)
    a, b = rng.uniform(0, 60, (n, 2)), rng.uniform(0, 60, (m, 2))
    i, j, d = gated_pairs(a, b, 4.0)
    full = np.hypot(*(a[:, None, :] - b[None, :, :]).transpose(2, 0, 1)) if n else np.zeros((0, m))
    want = set(zip(*np.nonzero(full <= 4.0)))
    assert set(zip(i.tolist(), j.tolist())) == want and len(i) == len(want)
    assert np.allclose(d, full[i, j]) and (np.diff(i) >= 0).all()


def test_sparse_matching_is_the_dense_optimum() -> None:
    rng = np.random.default_rng(3)
    for _ in range(300):
        n, m = rng.integers(1, 9, 2)
        cost = rng.random((n, m))
        cost[rng.random((n, m)) < rng.uniform(0.2, 0.9)] = np.inf
        r, c = solve(cost)
        # reference: the old dense form (forbidden entries as a big cost, dropped afterwards)
        big = np.where(np.isfinite(cost), cost, 1e9)
        rr, cc = linear_sum_assignment(big)
        keep = big[rr, cc] < 1e9
        assert len(r) == keep.sum() and np.isclose(cost[r, c].sum(), cost[rr[keep], cc[keep]].sum())
        assert len(set(c.tolist())) == len(c) and (np.diff(r) > 0).all()
    i, j = solve_pairs(np.array([0, 1]), np.array([1, 0]), np.array([0.5, 0.5]))
    assert (i.tolist(), j.tolist()) == ([0, 1], [1, 0])  # unambiguous pairs match without the solver


def test_sequential_pair_updates_equal_the_joint_update() -> None:
    rng = np.random.default_rng(1)
    a = rng.normal(size=(20, 4, 4))
    p = a @ a.transpose(0, 2, 1) + np.eye(4)
    x, z, r = rng.normal(size=(20, 4)), rng.normal(size=(20, 4)), rng.uniform(0.1, 1.0, (20, 4))
    s = p + r[:, :, None] * np.eye(4)
    gain = np.linalg.solve(s, p).transpose(0, 2, 1)
    x_ref = x + np.einsum("nij,nj->ni", gain, z - x)
    p_ref = p - gain @ p
    xn, pn = kalman.update(x, p, z, r)
    assert np.allclose(xn, x_ref, atol=1e-12) and np.allclose(pn, p_ref, atol=1e-12)
    x2, p2 = kalman.update(*kalman.update(x, p, z[:, :2], r[:, :2]), z[:, 2:], r[:, 2:], first=2)
    assert np.allclose(x2, x_ref, atol=1e-12) and np.allclose(p2, p_ref, atol=1e-12)
    f = np.eye(4)
    f[0, 2] = f[1, 3] = 0.1
    xp, pp = kalman.predict(x, p, 0.1, 2.0)
    assert np.allclose(xp, x @ f.T) and np.allclose(pp - f @ p @ f.T, (pp - f @ p @ f.T)[0])  # same Q for all


def test_track_table_views_write_through_and_round_trip() -> None:
    t = TrackTable.zeros(3)
    t.x[1, 2] = 5.0
    t.p[2, 0, 1] = 7.0
    t.state[0] = 2
    t.cam_scores[1, 4] += 0.5
    assert t.X[2, 1] == 5.0 and t.P[0, 1, 2] == 7.0 and t.i[1, 0] == 2 and t.cam_scores.shape == (3, 6)
    back = TrackTable.from_snapshot(t.snapshot())
    assert back.snapshot() == t.snapshot() and set(t.snapshot()) == set(FIELDS)
    sub = t.take(np.array([2, 1]))
    sub.conf[:] = [0.25, 0.75]
    t.put(np.array([2, 1]), sub)
    assert t.conf.tolist() == [0.0, 0.75, 0.25] and len(t.join(sub)) == 5
    tr = Tracker(TrackerParams())
    assert tr.x.shape == (0, 4) and tr.p.shape == (0, 4, 4) and tr.snapshot()["ids"] == []


def test_projected_boxes_bound_the_projected_corners() -> None:
    k = np.array([[CAM.fx, 0, CAM.cx], [0, CAM.fy, CAM.cy], [0, 0, 1.0]])
    r = CAM.rotation
    h = CAM.ground_homography()
    full = CameraModel(h=h, h_inv=np.linalg.inv(h), image_size=(1920, 1080), foot=None, max_range_m=80,
                       p=k @ np.c_[r, -r @ np.asarray(CAM.position)])
    en, heading = np.array([[5.0, 12.0], [20.0, 3.0]]), [30.0, 200.0]
    size = np.array([[4.5, 1.8, 1.5], [0.5, 0.5, 1.7]])
    boxes = full.project_boxes(en, size, heading)
    for b, (e, n), (length, width, height), yaw in zip(boxes, en, size, np.radians(heading)):
        fwd, side = np.array([np.sin(yaw), np.cos(yaw)]), np.array([np.cos(yaw), -np.sin(yaw)])
        corners = [np.r_[(e, n) + sl * length / 2 * fwd + sw * width / 2 * side, z]
                   for sl in (1, -1) for sw in (1, -1) for z in (0.0, height)]
        uv = CAM.project(corners)[0]
        assert np.allclose(b, np.r_[uv.min(axis=0), uv.max(axis=0)], atol=1e-6)
    ground_only = CameraModel(h=h, h_inv=np.linalg.inv(h), image_size=(1920, 1080), foot=None, max_range_m=80)
    gb = ground_only.project_boxes(en, size, heading)
    assert np.allclose(gb[:, [0, 2, 3]], boxes[:, [0, 2, 3]], atol=25) and (gb[:, 1] < gb[:, 3]).all()
    assert full.project_boxes(np.zeros((0, 2)), np.zeros((0, 3)), []).shape == (0, 4)


@pytest.mark.parametrize("lat0", [48.1374, 0.5, -33.9, 69.6])
def test_local_geodetic_agrees_with_pymap3d_to_a_millimetre(lat0: float) -> None:
    geo = LocalGeodetic(lat0, 11.5755, 520.0)
    rng = np.random.default_rng(0)
    e, n = rng.uniform(-5000, 5000, (2, 400))
    lat, lon = geo.latlon(e, n)
    lat_ref, lon_ref, _ = enu_to_wgs84(e, n, np.zeros_like(e), lat0, 11.5755, 520.0)
    # the error as a ground distance: both positions back to ENU, same height
    e1, n1, _ = wgs84_to_enu(lat, lon, np.zeros_like(e), lat0, 11.5755, 520.0)
    e2, n2, _ = wgs84_to_enu(lat_ref, lon_ref, np.zeros_like(e), lat0, 11.5755, 520.0)
    assert np.hypot(e1 - e2, n1 - n2).max() < 1e-3
    far_lat, far_lon = geo.latlon([9000.0, 0.0], [0.0, 0.0])  # outside the fitted square: pymap3d itself
    ref_lat, ref_lon, _ = enu_to_wgs84(np.array([9000.0]), np.zeros(1), np.zeros(1), lat0, 11.5755, 520.0)
    assert far_lat[0] == ref_lat[0] and far_lon[0] == ref_lon[0] and far_lat[1] == pytest.approx(lat0, abs=1e-12)


def test_in_view_is_inside_the_image_in_front_and_in_range() -> None:
    h = CAM.ground_homography()
    model = CameraModel(h=h, h_inv=np.linalg.inv(h), image_size=(1920, 1080), foot=np.array([-18.0, -18.0]),
                        max_range_m=60.0)
    en = np.random.default_rng(2).uniform(-80, 80, (2000, 2))
    uv, depth = CAM.project(np.c_[en, np.zeros(len(en))])
    want = ((depth > 0) & (uv[:, 0] >= 0) & (uv[:, 0] < 1920) & (uv[:, 1] >= 0) & (uv[:, 1] < 1080)
            & (np.hypot(en[:, 0] + 18, en[:, 1] + 18) <= 60))
    got = model.in_view(en)
    assert 50 < got.sum() < len(en) - 50 and (got == want).all()
