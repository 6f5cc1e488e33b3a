"""Gated association solved with the Hungarian algorithm (``scipy.optimize.linear_sum_assignment``)."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import numpy.typing as npt
from scipy.optimize import linear_sum_assignment
from scipy.spatial import cKDTree

from rsu.fusion.classes import COMPAT_COST

__all__ = ["solve", "iou_matrix", "gated_pairs", "camera_radar_cost", "track_cost"]

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


def gated_pairs(a: Array, b: Array, radius: float) -> tuple[IntArray, IntArray, Array]:
    """Index pairs ``(i, j)`` and distances of points of ``a`` and ``b`` closer than ``radius`` (k-d trees)."""
    if len(a) == 0 or len(b) == 0:
        return np.zeros(0, np.intp), np.zeros(0, np.intp), np.zeros(0)
    sp = cKDTree(a).sparse_distance_matrix(cKDTree(b), radius, output_type="ndarray")
    return sp["i"].astype(np.intp), sp["j"].astype(np.intp), sp["v"]


def _pair_iou(a: Array, b: Array) -> Array:
    iw = np.clip(np.minimum(a[:, 2], b[:, 2]) - np.maximum(a[:, 0], b[:, 0]), 0, None)
    ih = np.clip(np.minimum(a[:, 3], b[:, 3]) - np.maximum(a[:, 1], b[:, 1]), 0, None)
    inter = iw * ih
    union = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1]) + (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1]) - inter
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.nan_to_num(inter / union)


def camera_radar_cost(cam_pos: Array, cam_cls: npt.NDArray[np.int_], cam_boxes: Array | None,
                      radar_pos: Array, radar_cls: npt.NDArray[np.int_], radar_boxes: Array | Callable | None,
                      gate: Array, iou_weight: float = 0.5) -> Array:
    """Cost of pairing each camera detection with each radar object.

    ``distance / gate`` on the ground plane + ``iou_weight * (1 - IoU)`` of the radar object's projected
    box with the detection box + the class penalty; ``inf`` outside the gate (``gate``: per detection,
    metres) or for incompatible classes. Only pairs within the largest gate are computed; ``radar_boxes`` may
    be a function of radar indices, so that only radar objects near a detection are projected.
    """
    cost = np.full((len(cam_pos), len(radar_pos)), np.inf)
    if not cost.size:
        return cost
    i, j, d = gated_pairs(cam_pos, radar_pos, float(gate.max()))
    ok = d <= gate[i]
    i, j, d = i[ok], j[ok], d[ok]
    c = d / gate[i] + COMPAT_COST[cam_cls[i], radar_cls[j]]
    if cam_boxes is not None and radar_boxes is not None and len(i):
        if callable(radar_boxes):
            near, inv = np.unique(j, return_inverse=True)
            rb = radar_boxes(near)[inv]
        else:
            rb = radar_boxes[j]
        c = c + iou_weight * (1.0 - _pair_iou(cam_boxes[i], rb))
    cost[i, j] = c
    return cost


def track_cost(track_pos: Array, track_var: Array, track_cls: npt.NDArray[np.int_], meas_pos: Array,
               meas_var: Array, meas_cls: npt.NDArray[np.int_], gate: Array, chi2: float = 13.8) -> Array:
    """Cost of updating each track with each measurement: normalised squared distance (isotropic
    innovation variance ``track_var + meas_var``) + class penalty; ``inf`` beyond ``gate`` metres
    (per measurement) or ``chi2``."""
    cost = np.full((len(track_pos), len(meas_pos)), np.inf)
    if not cost.size:
        return cost
    i, j, d = gated_pairs(track_pos, meas_pos, float(gate.max()))
    m2 = d * d / (track_var[i] + meas_var[j])
    ok = (d <= gate[j]) & (m2 <= chi2)
    i, j, m2 = i[ok], j[ok], m2[ok]
    cost[i, j] = m2 / chi2 + COMPAT_COST[track_cls[i], meas_cls[j]]
    return cost
