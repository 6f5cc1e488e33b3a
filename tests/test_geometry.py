"""Homography from surveyed points, camera model, radar pose, ENU <-> WGS84, calibration config checks."""

from __future__ import annotations

import numpy as np
import pytest

from rsu.config import ConfigError, parse_config
from rsu.fusion.calibration import calibration_report, camera_model
from rsu.fusion.geometry import (PinholeCamera, RadarMount, apply_homography, enu_to_wgs84, solve_homography,
                                 wgs84_to_enu)

CAM = PinholeCamera(1100.0, 1100.0, 960.0, 540.0, (-18.0, -18.0, 6.5), 45.0, 9.0)
GROUND = np.array([(0, 0), (10, 0), (0, 10), (10, 10), (20, 5), (5, 25), (30, 30), (-5, 15)], float)


def test_homography_recovers_known_points() -> None:
    pixels, depth = CAM.project(np.c_[GROUND, np.zeros(len(GROUND))])
    assert (depth > 0).all()
    h = solve_homography(GROUND[:4], pixels[:4])  # exactly 4 points
    assert np.allclose(h, CAM.ground_homography(), atol=1e-6)
    h = solve_homography(GROUND, pixels)
    assert np.allclose(apply_homography(h, GROUND), pixels, atol=1e-6)
    assert np.allclose(apply_homography(np.linalg.inv(h), pixels), GROUND, atol=1e-6)
    other = np.array([(17.0, 3.0), (-2.0, 33.0)])
    assert np.allclose(apply_homography(np.linalg.inv(h), CAM.project(np.c_[other, [0, 0]])[0]), other, atol=1e-6)


def test_homography_rejects_degenerate_input() -> None:
    with pytest.raises(ValueError, match="at least 4"):
        solve_homography(GROUND[:3], GROUND[:3])
    with pytest.raises(ValueError, match="degenerate"):
        line = np.array([(0, 0), (1, 1), (2, 2), (3, 3)], float)
        solve_homography(line, line * 10)


def test_radar_mount_round_trip() -> None:
    m = RadarMount((-17.0, -18.5, 1.0), 45.0)
    en = m.to_enu([[10.0, 0.0], [0.0, 2.0]])
    s = np.sqrt(0.5)
    assert np.allclose(en, [[-17 + 10 * s, -18.5 + 10 * s], [-17 - 2 * s, -18.5 + 2 * s]])
    assert np.allclose(m.from_enu(en), [[10, 0], [0, 2]])
    assert np.allclose(m.vel_from_enu(m.vel_to_enu([[3.0, -1.0]])), [[3.0, -1.0]])


def test_enu_wgs84_round_trip() -> None:
    e, n, u = np.array([0.0, 120.5, -3000.0]), np.array([0.0, -45.25, 2500.0]), np.zeros(3)
    lat, lon, alt = enu_to_wgs84(e, n, u, 48.1374, 11.5755, 520.0)
    assert lat[0] == pytest.approx(48.1374) and lon[0] == pytest.approx(11.5755)
    assert lat[1] < 48.1374 and lon[1] > 11.5755
    e2, n2, u2 = wgs84_to_enu(lat, lon, alt, 48.1374, 11.5755, 520.0)
    assert np.allclose(e2, e, atol=1e-6) and np.allclose(n2, n, atol=1e-6) and np.allclose(u2, u, atol=1e-6)


def _cfg(points: list, **cam: object) -> dict:
    return {"site": {"name": "t", "lat": 48.0, "lon": 11.0},
            "fusion": {"cameras": {"cam-1": {"image_size": [1920, 1080], "ground_points": points, **cam}},
                       "radars": {"radar-1": {"position": [0, 0, 1], "yaw_deg": 45}}}}


def _points(noise: float = 0.0) -> list:
    pixels, _ = CAM.project(np.c_[GROUND, np.zeros(len(GROUND))])
    pixels = pixels + noise
    return [{"enu": g.tolist(), "pixel": p.tolist()} for g, p in zip(GROUND, pixels)]


def test_calibration_config_checked_and_reported() -> None:
    cfg = parse_config(_cfg(_points(), intrinsics={"fx": 1100, "fy": 1100, "cx": 960, "cy": 540}))
    model = camera_model(cfg.fusion.cameras["cam-1"])
    assert np.allclose(model.foot, [-18.0, -18.0], atol=1e-3)  # camera position recovered via the intrinsics
    report = calibration_report(cfg.fusion, dict(cfg.fusion.radars))
    assert report["ok"] and report["cameras"]["cam-1"]["rms_px"] < 1e-6
    with pytest.raises(ConfigError) as err:
        parse_config(_cfg(_points()[:3]))
    assert "fusion.cameras.cam-1" in str(err.value) and "at least 4" in str(err.value)
    bad = _points()
    bad[2]["pixel"] = [bad[2]["pixel"][0] + 60.0, bad[2]["pixel"][1]]
    with pytest.raises(ConfigError, match="reprojection rms"):
        parse_config(_cfg(bad))
    with pytest.raises(ConfigError, match="intrinsics and mount"):
        parse_config(_cfg([]))
