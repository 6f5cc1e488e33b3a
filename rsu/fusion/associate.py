"""Gated association solved with the Hungarian algorithm (``scipy.optimize.linear_sum_assignment``)."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
from scipy.optimize import linear_sum_assignment

from rsu.fusion.classes import COMPAT_COST

__all__ = ["solve", "iou_matrix", "camera_radar_cost", "track_cost"]

Array = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.intp]
_BIG = 1e9


def solve(cost: Array) -> tuple[IntArray, IntArray]:
    """Minimum-cost matching; ``inf`` entries are forbidden. Returns matched ``(rows, cols)``."""
    if cost.size == 0:
        return np.zeros(0, np.intp), np.zeros(0, np.intp)
    finite = np.isfinite(cost)
    rows_ok, cols_ok = finite.any(axis=1), finite.any(axis=0)
    if not rows_ok.any():
        return np.zeros(0, np.intp), np.zeros(0, np.intp)
    ri, ci = np.flatnonzero(rows_ok), np.flatnonzero(cols_ok)
    sub = cost[np.ix_(ri, ci)]
    sub = np.where(np.isfinite(sub), sub, _BIG)
    r, c = linear_sum_assignment(sub)
    keep = sub[r, c] < _BIG
    return ri[r[keep]], ci[c[keep]]


def iou_matrix(a: Array, b: Array) -> Array:
    """IoU of boxes ``a (N, 4)`` against ``b (M, 4)``, ``x1, y1, x2, y2``."""
    if len(a) == 0 or len(b) == 0:
        return np.zeros((len(a), len(b)))
    x1 = np.maximum(a[:, None, 0], b[None, :, 0])
    y1 = np.maximum(a[:, None, 1], b[None, :, 1])
    x2 = np.minimum(a[:, None, 2], b[None, :, 2])
    y2 = np.minimum(a[:, None, 3], b[None, :, 3])
    inter = np.clip(x2 - x1, 0, None) * np.clip(y2 - y1, 0, None)
    area_a = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1])
    area_b = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    with np.errstate(divide="ignore", invalid="ignore"):
        out = inter / (area_a[:, None] + area_b[None, :] - inter)
    return np.nan_to_num(out)


def _dist(a: Array, b: Array) -> Array:
    d = a[:, None, :] - b[None, :, :]
    return np.sqrt(d[..., 0] ** 2 + d[..., 1] ** 2)


def camera_radar_cost(cam_pos: Array, cam_cls: npt.NDArray[np.int_], cam_boxes: Array | None,
                      radar_pos: Array, radar_cls: npt.NDArray[np.int_], radar_boxes: Array | None,
                      gate: Array, iou_weight: float = 0.5) -> Array:
    """Cost of pairing each camera detection with each radar object.

    ``distance / gate`` on the ground plane + ``iou_weight * (1 - IoU)`` of the radar object's projected
    box with the detection box + the class penalty; ``inf`` outside the gate (``gate``: per detection,
    metres) or for incompatible classes.
    """
    d = _dist(cam_pos, radar_pos)
    cost = d / gate[:, None] + COMPAT_COST[cam_cls[:, None], radar_cls[None, :]]
    if cam_boxes is not None and radar_boxes is not None and len(cam_boxes) and len(radar_boxes):
        cost += iou_weight * (1.0 - iou_matrix(cam_boxes, radar_boxes))
    cost[d > gate[:, None]] = np.inf
    return cost


def track_cost(track_pos: Array, track_var: Array, track_cls: npt.NDArray[np.int_], meas_pos: Array,
               meas_var: Array, meas_cls: npt.NDArray[np.int_], gate: Array, chi2: float = 13.8) -> Array:
    """Cost of updating each track with each measurement: normalised squared distance (isotropic
    innovation variance ``track_var + meas_var``) + class penalty; ``inf`` beyond ``gate`` metres
    (per measurement) or ``chi2``."""
    d = _dist(track_pos, meas_pos)
    s = track_var[:, None] + meas_var[None, :]
    m2 = d * d / s
    cost = m2 / chi2 + COMPAT_COST[track_cls[:, None], meas_cls[None, :]]
    cost[(m2 > chi2) | (d > gate[None, :])] = np.inf
    return cost
