"""Calibration models built from the config: per camera a ground homography (+ optional projection),
per radar a mount; checks and the report that ``rsu calibrate`` prints."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from rsu.core.homography import check_ground_points, ground_arrays
from rsu.fusion.geometry import PinholeCamera, RadarMount, apply_homography, reprojection_errors, solve_homography

__all__ = ["CameraModel", "check_ground_points", "camera_model", "radar_mount", "calibration_report"]

Array = npt.NDArray[np.float64]


@dataclass(frozen=True, slots=True)
class CameraModel:
    """What fusion needs of a camera: ground <-> image maps, range and, when known, full projection."""

    h: Array  # ground -> image
    h_inv: Array
    image_size: tuple[int, int]
    foot: Array | None  # camera position projected on the ground (ENU)
    max_range_m: float
    p: Array | None = None  # 3x4 projection, ENU -> image (when intrinsics are known)

    def image_to_ground(self, uv: npt.ArrayLike) -> Array:
        return apply_homography(self.h_inv, uv)

    def ground_to_image(self, en: npt.ArrayLike) -> Array:
        return apply_homography(self.h, en)

    def in_view(self, en: npt.ArrayLike) -> npt.NDArray[np.bool_]:
        """Ground points in front of the camera, inside the image and within range."""
        en = np.asarray(en, dtype=np.float64).reshape(-1, 2)
        q = en @ self.h[:, :2].T + self.h[:, 2]
        w = q[:, 2]
        with np.errstate(divide="ignore", invalid="ignore"):
            u, v = q[:, 0] / w, q[:, 1] / w
        ok = (w > 0) & (u >= 0) & (u < self.image_size[0]) & (v >= 0) & (v < self.image_size[1])
        if self.foot is not None:
            ok &= np.hypot(en[:, 0] - self.foot[0], en[:, 1] - self.foot[1]) <= self.max_range_m
        return ok

    def project_boxes(self, en: npt.ArrayLike, sizes: npt.ArrayLike, heading_deg: npt.ArrayLike) -> Array:
        """Image boxes ``(N, 4)`` of upright boxes standing at ``en`` (``sizes``: length, width, height)."""
        en = np.asarray(en, dtype=np.float64).reshape(-1, 2)
        sz = np.asarray(sizes, dtype=np.float64).reshape(-1, 3)
        n = len(en)
        if n == 0:
            return np.zeros((0, 4))
        yaw = np.radians(np.asarray(heading_deg, dtype=np.float64).reshape(-1))
        sin, cos = np.sin(yaw), np.cos(yaw)
        e, nn, height = en[:, 0], en[:, 1], sz[:, 2]
        # the 4 footprint corners, (4, N) per coordinate: centre +- half length ahead +- half width aside
        half_l, half_w = sz[:, 0] / 2, sz[:, 1] / 2
        east = e + _CORNER_L * (half_l * sin) + _CORNER_W * (half_w * cos)
        north = nn + _CORNER_L * (half_l * cos) - _CORNER_W * (half_w * sin)
        if self.p is not None:
            rows = self.p.tolist()
            u, v, w = (np.concatenate([g, g + r[2] * height])  # the ground corners, then the top ones
                       for r in rows for g in (r[0] * east + r[1] * north + r[3],))
            w = np.maximum(w, 1e-6)
            u, v = u / w, v / w
            return np.stack([u.min(axis=0), v.min(axis=0), u.max(axis=0), v.max(axis=0)], axis=1)
        # footprint only, height from the local pixel scale (the top corners lie straight above the footprint's)
        u, v = self._to_image(np.concatenate([east.ravel(), e, e + cos]),
                              np.concatenate([north.ravel(), nn, nn - sin]))
        fu, fv = u[: 4 * n].reshape(4, n), v[: 4 * n].reshape(4, n)
        scale = np.hypot(u[5 * n:] - u[4 * n: 5 * n], v[5 * n:] - v[4 * n: 5 * n])
        return np.stack([fu.min(axis=0), fv.min(axis=0) - height * scale, fu.max(axis=0), fv.max(axis=0)], axis=1)

    def _to_image(self, e: Array, n: Array) -> tuple[Array, Array]:
        """:meth:`ground_to_image` on coordinate arrays (NaN where a point maps to infinity)."""
        (h00, h01, h02), (h10, h11, h12), (h20, h21, h22) = self.h.tolist()
        w = h20 * e + h21 * n + h22
        w = np.where(np.abs(w) < 1e-12, np.nan, w)
        return (h00 * e + h01 * n + h02) / w, (h10 * e + h11 * n + h12) / w


_CORNER_L = np.array([1.0, 1.0, -1.0, -1.0])[:, None]
_CORNER_W = np.array([1.0, -1.0, 1.0, -1.0])[:, None]


def _decompose(h: Array, k: Array, ground_sample: Array) -> Array:
    """3x4 projection ``K [R | t]`` from a ground homography and intrinsics."""
    m = np.linalg.inv(k) @ h
    lam = 2.0 / (np.linalg.norm(m[:, 0]) + np.linalg.norm(m[:, 1]))
    r1, r2, t = lam * m[:, 0], lam * m[:, 1], lam * m[:, 2]
    if (np.c_[r1, r2, t] @ np.r_[ground_sample, 1.0])[2] < 0:  # points must lie in front
        r1, r2, t = -r1, -r2, -t
    u, _, vt = np.linalg.svd(np.c_[r1, r2, np.cross(r1, r2)])
    r = u @ vt
    return k @ np.c_[r, t]


def camera_model(cal: Any) -> CameraModel:
    """Build a :class:`CameraModel` from a ``CameraCalibration`` config entry."""
    k = None
    if cal.intrinsics is not None:
        i = cal.intrinsics
        k = np.array([[i.fx, 0, i.cx], [0, i.fy, i.cy], [0, 0, 1.0]])
    p = None
    if cal.ground_points:
        g, px = ground_arrays(cal)
        h = solve_homography(g, px)
        if k is not None:
            p = _decompose(h, k, g.mean(axis=0))
    else:
        m = cal.mount
        cam = PinholeCamera(k[0, 0], k[1, 1], k[0, 2], k[1, 2], tuple(m.position), m.yaw_deg, m.pitch_deg)
        h = cam.ground_homography()
        r = cam.rotation
        p = k @ np.c_[r, -r @ np.asarray(m.position)]
    foot = None
    if cal.mount is not None:
        foot = np.asarray(cal.mount.position[:2], dtype=np.float64)
    elif p is not None:
        centre = -np.linalg.inv(p[:, :3]) @ p[:, 3]
        foot = centre[:2]
    return CameraModel(h=h, h_inv=np.linalg.inv(h), image_size=tuple(cal.image_size), foot=foot,
                       max_range_m=cal.max_range_m, p=p)


def radar_mount(pose: Any) -> RadarMount:
    return RadarMount(tuple(pose.position), pose.yaw_deg)


def calibration_report(fusion: Any, radar_poses: dict[str, Any]) -> dict[str, Any]:
    """Per camera: homography, reprojection rms/max in pixels and metres, camera ground position; per radar: pose."""
    cams: dict[str, Any] = {}
    for cid, cal in fusion.cameras.items():
        model = camera_model(cal)
        entry: dict[str, Any] = {"homography": np.round(model.h, 9).tolist(),
                                 "source": "ground_points" if cal.ground_points else "intrinsics+mount"}
        if cal.ground_points:
            g, px = ground_arrays(cal)
            e_px, e_m = reprojection_errors(model.h, g, px)
            entry.update(points=len(g), rms_px=float(np.sqrt((e_px**2).mean())), max_px=float(e_px.max()),
                         rms_m=float(np.sqrt((e_m**2).mean())), max_m=float(e_m.max()),
                         ok=bool(np.sqrt((e_px**2).mean()) <= cal.max_reprojection_px))
        else:
            entry["ok"] = True
        entry["camera_ground_position"] = None if model.foot is None else np.round(model.foot, 3).tolist()
        cams[cid] = entry
    radars = {rid: {"position": list(p.position), "yaw_deg": p.yaw_deg} for rid, p in radar_poses.items()}
    return {"cameras": cams, "radars": radars, "ok": all(c["ok"] for c in cams.values())}
