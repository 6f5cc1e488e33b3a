"""Geometry of the site: ground-plane homography (own DLT), camera projection, radar pose, ENU <-> WGS84.

Conventions: ENU metres from the site origin (x east, y north, z up); headings and yaws in degrees
clockwise from North; the homography ``H`` maps ground ``(e, n, 1)`` to pixels ``(u, v, 1)``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from rsu.core.homography import apply_homography, reprojection_errors, solve_homography

__all__ = [
    "solve_homography", "apply_homography", "reprojection_errors", "PinholeCamera", "RadarMount",
    "enu_to_wgs84", "wgs84_to_enu", "heading_deg", "LocalGeodetic",
]

Array = npt.NDArray[np.float64]


@dataclass(frozen=True, slots=True)
class PinholeCamera:
    """A camera with intrinsics ``K`` and a pose (position ENU, yaw clockwise from North, pitch down)."""

    fx: float
    fy: float
    cx: float
    cy: float
    position: tuple[float, float, float]
    yaw_deg: float
    pitch_deg: float

    @property
    def k(self) -> Array:
        return np.array([[self.fx, 0, self.cx], [0, self.fy, self.cy], [0, 0, 1.0]])

    @property
    def rotation(self) -> Array:
        """World (ENU) -> camera (x right, y down, z forward)."""
        yaw, pitch = math.radians(self.yaw_deg), math.radians(self.pitch_deg)
        fwd = np.array([math.sin(yaw) * math.cos(pitch), math.cos(yaw) * math.cos(pitch), -math.sin(pitch)])
        right = np.cross(fwd, [0.0, 0.0, 1.0])
        right /= np.linalg.norm(right)
        down = np.cross(fwd, right)
        return np.vstack([right, down, fwd])

    def project(self, pts_enu: npt.ArrayLike) -> tuple[Array, Array]:
        """Pixels ``(N, 2)`` and depth ``(N,)`` of ENU points ``(N, 3)``."""
        p = np.asarray(pts_enu, dtype=np.float64).reshape(-1, 3)
        cam = (p - np.asarray(self.position)) @ self.rotation.T
        z = cam[:, 2]
        with np.errstate(divide="ignore", invalid="ignore"):
            uv = np.c_[self.fx * cam[:, 0] / z + self.cx, self.fy * cam[:, 1] / z + self.cy]
        return uv, z

    def ground_homography(self) -> Array:
        """``H = K [r1 r2 t]``: ground plane (z = 0) -> image."""
        r = self.rotation
        t = -r @ np.asarray(self.position)
        h = self.k @ np.c_[r[:, 0], r[:, 1], t]
        return h / h[2, 2]


@dataclass(frozen=True, slots=True)
class RadarMount:
    """A radar's pose: position ENU and boresight yaw (clockwise from North). Radar frame: x ahead, y left."""

    position: tuple[float, float, float] = (0.0, 0.0, 0.0)
    yaw_deg: float = 0.0

    def _axes(self) -> tuple[Array, Array]:
        yaw = math.radians(self.yaw_deg)
        fwd = np.array([math.sin(yaw), math.cos(yaw)])
        left = np.array([-math.cos(yaw), math.sin(yaw)])
        return fwd, left

    def to_enu(self, xy: npt.ArrayLike) -> Array:
        """Radar ``(N, 2)`` (long, lat) -> ENU ``(N, 2)`` ground positions."""
        fwd, left = self._axes()
        p = np.asarray(xy, dtype=np.float64).reshape(-1, 2)
        return np.asarray(self.position[:2]) + p[:, :1] * fwd + p[:, 1:2] * left

    def vel_to_enu(self, vxy: npt.ArrayLike) -> Array:
        """Radar velocities ``(N, 2)`` -> ENU velocities (the radar stands still)."""
        fwd, left = self._axes()
        v = np.asarray(vxy, dtype=np.float64).reshape(-1, 2)
        return v[:, :1] * fwd + v[:, 1:2] * left

    def from_enu(self, en: npt.ArrayLike) -> Array:
        """ENU ``(N, 2)`` -> radar ``(N, 2)`` (long, lat)."""
        fwd, left = self._axes()
        d = np.asarray(en, dtype=np.float64).reshape(-1, 2) - np.asarray(self.position[:2])
        return np.c_[d @ fwd, d @ left]

    def vel_from_enu(self, v_en: npt.ArrayLike) -> Array:
        fwd, left = self._axes()
        v = np.asarray(v_en, dtype=np.float64).reshape(-1, 2)
        return np.c_[v @ fwd, v @ left]


def enu_to_wgs84(e: npt.ArrayLike, n: npt.ArrayLike, u: npt.ArrayLike, lat0: float, lon0: float,
                 alt0: float = 0.0) -> tuple[Array, Array, Array]:
    """ENU metres -> WGS84 (lat, lon degrees, altitude metres), via pymap3d."""
    import pymap3d

    lat, lon, alt = pymap3d.enu2geodetic(np.asarray(e, float), np.asarray(n, float), np.asarray(u, float),
                                         lat0, lon0, alt0)
    return np.asarray(lat), np.asarray(lon), np.asarray(alt)


def wgs84_to_enu(lat: npt.ArrayLike, lon: npt.ArrayLike, alt: npt.ArrayLike, lat0: float, lon0: float,
                 alt0: float = 0.0) -> tuple[Array, Array, Array]:
    """WGS84 -> ENU metres from the origin, via pymap3d."""
    import pymap3d

    e, n, u = pymap3d.geodetic2enu(np.asarray(lat, float), np.asarray(lon, float), np.asarray(alt, float),
                                   lat0, lon0, alt0)
    return np.asarray(e), np.asarray(n), np.asarray(u)


class LocalGeodetic:
    """ENU ground points (up = 0) -> WGS84 lat/lon near a fixed origin, for many points per cycle.

    A cubic polynomial in east and north, fitted once (least squares) to :func:`enu_to_wgs84` on a grid
    over +-``radius_m``: within that square it agrees with pymap3d to well under a millimetre (about
    1e-6 m at mid latitudes, checked by the tests); points outside go through pymap3d itself.
    """

    def __init__(self, lat0: float, lon0: float, alt0: float = 0.0, radius_m: float = 5000.0) -> None:
        self.origin = (float(lat0), float(lon0), float(alt0))
        self.radius_m = float(radius_m)
        g = np.linspace(-radius_m, radius_m, 21)
        e, n = (a.ravel() for a in np.meshgrid(g, g))
        lat, lon, _ = enu_to_wgs84(e, n, np.zeros_like(e), *self.origin)
        self._coef = np.linalg.lstsq(self._terms(e, n), np.c_[lat - lat0, lon - lon0], rcond=None)[0]

    def _terms(self, e: Array, n: Array) -> Array:
        e, n = e / self.radius_m, n / self.radius_m
        ee, nn = e * e, n * n
        return np.stack([e, n, ee, e * n, nn, ee * e, ee * n, e * nn, nn * n], axis=1)

    def latlon(self, e: npt.ArrayLike, n: npt.ArrayLike) -> tuple[Array, Array]:
        """Latitudes and longitudes (degrees) of ENU ground points ``(e[i], n[i], 0)``."""
        e, n = np.asarray(e, np.float64).reshape(-1), np.asarray(n, np.float64).reshape(-1)
        d = self._terms(e, n) @ self._coef
        lat, lon = d[:, 0] + self.origin[0], d[:, 1] + self.origin[1]
        far = np.maximum(np.abs(e), np.abs(n)) > self.radius_m
        if far.any():
            lat[far], lon[far], _ = enu_to_wgs84(e[far], n[far], np.zeros(int(far.sum())), *self.origin)
        return lat, lon


def heading_deg(ve: npt.ArrayLike, vn: npt.ArrayLike) -> Array:
    """Direction of travel, degrees clockwise from North in ``[0, 360)``."""
    return np.degrees(np.arctan2(np.asarray(ve, float), np.asarray(vn, float))) % 360.0
