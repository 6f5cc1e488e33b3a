"""Planar homographies between the ground (ENU metres) and an image (pixels), from surveyed points.

Pure numpy, below every runtime package: the config validates a camera's surveyed points with it, and fusion
builds its camera models on it.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import numpy.typing as npt

__all__ = ["apply_homography", "check_ground_points", "ground_arrays", "reprojection_errors", "solve_homography"]

Array = npt.NDArray[np.float64]


def _normaliser(pts: Array) -> Array:
    """Similarity that moves points to zero mean and mean distance sqrt(2) (Hartley normalisation)."""
    mean = pts.mean(axis=0)
    dist = np.sqrt(((pts - mean) ** 2).sum(axis=1)).mean()
    s = math.sqrt(2) / dist if dist > 0 else 1.0
    return np.array([[s, 0, -s * mean[0]], [0, s, -s * mean[1]], [0, 0, 1]])


def solve_homography(ground: npt.ArrayLike, pixels: npt.ArrayLike) -> Array:
    """Homography ground -> image from >= 4 point pairs by normalised DLT (SVD), least squares for > 4.

    :raises ValueError: fewer than 4 pairs, non-finite values, or a degenerate (collinear) layout.
    """
    g = np.asarray(ground, dtype=np.float64).reshape(-1, 2)
    p = np.asarray(pixels, dtype=np.float64).reshape(-1, 2)
    if g.shape != p.shape:
        raise ValueError(f"expected as many ground points as pixels, got {len(g)} and {len(p)}")
    if len(g) < 4:
        raise ValueError(f"need at least 4 point pairs, got {len(g)}")
    if not (np.isfinite(g).all() and np.isfinite(p).all()):
        raise ValueError("point coordinates must be finite")
    tg, tp = _normaliser(g), _normaliser(p)
    gh = (tg @ np.c_[g, np.ones(len(g))].T).T
    ph = (tp @ np.c_[p, np.ones(len(p))].T).T
    rows = []
    for (x, y, w), (u, v, s) in zip(gh, ph):
        rows.append([0, 0, 0, -s * x, -s * y, -s * w, v * x, v * y, v * w])
        rows.append([s * x, s * y, s * w, 0, 0, 0, -u * x, -u * y, -u * w])
    a = np.asarray(rows)
    _, sv, vt = np.linalg.svd(a)
    if sv[-2] < 1e-9 * sv[0]:
        raise ValueError("degenerate point layout (three or more points on a line?)")
    hn = vt[-1].reshape(3, 3)
    h = np.linalg.inv(tp) @ hn @ tg
    if abs(h[2, 2]) < 1e-12:
        raise ValueError("degenerate homography")
    return h / h[2, 2]


def apply_homography(h: Array, pts: npt.ArrayLike) -> Array:
    """Map ``(N, 2)`` points through ``h``; points mapped to infinity become NaN."""
    p = np.asarray(pts, dtype=np.float64).reshape(-1, 2)
    q = p @ h[:, :2].T + h[:, 2]
    w = q[:, 2:3]
    with np.errstate(divide="ignore", invalid="ignore"):
        out = q[:, :2] / w
    out[np.abs(w[:, 0]) < 1e-12] = np.nan
    return out


def reprojection_errors(h: Array, ground: npt.ArrayLike, pixels: npt.ArrayLike) -> tuple[Array, Array]:
    """Per-point error in pixels (ground -> image) and in metres (image -> ground)."""
    g = np.asarray(ground, dtype=np.float64).reshape(-1, 2)
    p = np.asarray(pixels, dtype=np.float64).reshape(-1, 2)
    px = np.linalg.norm(apply_homography(h, g) - p, axis=1)
    m = np.linalg.norm(apply_homography(np.linalg.inv(h), p) - g, axis=1)
    return px, m


def ground_arrays(cal: Any) -> tuple[Array, Array]:
    g = np.array([p.enu for p in cal.ground_points], dtype=np.float64)
    p = np.array([p.pixel for p in cal.ground_points], dtype=np.float64)
    return g, p


def check_ground_points(cal: Any) -> str | None:
    """Problem with a camera's surveyed points (degenerate, too large reprojection error), or None."""
    g, p = ground_arrays(cal)
    try:
        h = solve_homography(g, p)
    except ValueError as exc:
        return str(exc)
    px, _ = reprojection_errors(h, g, p)
    rms = float(np.sqrt((px**2).mean()))
    if rms > cal.max_reprojection_px:
        worst = int(np.argmax(px))
        return (f"reprojection rms {rms:.2f} px exceeds max_reprojection_px {cal.max_reprojection_px:g} "
                f"(worst: point [{worst}], {px[worst]:.2f} px)")
    return None
