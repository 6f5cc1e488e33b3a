"""Gated association: candidate pairs by distance, costs on those pairs only, minimum-cost matching.

Per cycle only pairs within a gate are ever built (a dense distance matrix for small inputs, a sweep
over positions sorted by east for large ones). The matching is exact: pairs that are the only candidate
of both their row and their column match directly; what is left (rows or columns with several
candidates) goes to ``scipy.optimize.linear_sum_assignment``. The dense-matrix forms (:func:`solve`,
:func:`camera_radar_cost`, :func:`track_cost`) are kept for callers that want a full matrix.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import numpy.typing as npt
from scipy.optimize import linear_sum_assignment

from rsu.fusion.classes import COMPAT_COST

__all__ = ["solve", "solve_pairs", "iou_matrix", "gated_pairs", "camera_radar_pairs", "camera_radar_cost",
           "track_pairs", "track_cost"]

Array = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.intp]
Pairs = tuple[IntArray, IntArray, Array]
_BIG = 1e9
_DENSE_MAX = 512
"""Up to this many point pairs the distance matrix is built densely; beyond, a sorted sweep."""


def _no_pairs() -> Pairs:
    return np.zeros(0, np.intp), np.zeros(0, np.intp), np.zeros(0)


def gated_pairs(a: Array, b: Array, radius: float) -> Pairs:
    """Index pairs ``(i, j)`` and distances of points of ``a (N, 2)`` and ``b (M, 2)`` at most ``radius``
    apart, ordered by ``i``."""
    n, m = len(a), len(b)
    if n == 0 or m == 0:
        return _no_pairs()
    ae, an, be, bn = a[:, 0], a[:, 1], b[:, 0], b[:, 1]
    if n * m <= _DENSE_MAX:
        d = np.hypot(ae[:, None] - be, an[:, None] - bn)
        i, j = np.nonzero(d <= radius)
        return i, j, d[i, j]
    # sweep: b sorted by east; each point of a takes the run of b within +-radius east of it
    order = be.argsort()
    east = be[order]
    lo = east.searchsorted(ae - radius)
    cnt = east.searchsorted(ae + radius, "right") - lo
    i = np.arange(n).repeat(cnt)
    j = order[np.arange(len(i)) + (lo - cnt.cumsum() + cnt).repeat(cnt)]
    d = np.hypot(ae[i] - be[j], an[i] - bn[j])
    ok = d <= radius
    return i[ok], j[ok], d[ok]


def solve_pairs(i: IntArray, j: IntArray, cost: Array) -> tuple[IntArray, IntArray]:
    """Minimum-cost matching over candidate pairs ``(i[k], j[k])`` of cost ``cost[k]`` (unique pairs,
    ordered by ``i`` as :func:`gated_pairs` gives them).

    The same matching as :func:`solve` on the dense matrix (most pairs first, then least cost).
    Returns matched ``(rows, cols)`` sorted by row.
    """
    if len(i) == 0:
        return np.zeros(0, np.intp), np.zeros(0, np.intp)
    row_n, col_n = np.bincount(i), np.bincount(j)
    matched = (row_n[i] == 1) & (col_n[j] == 1)  # the only candidate of its row and of its column
    if matched.all():
        return i, j
    # the rest: rows and columns with several candidates, solved together on a small dense matrix
    rest = np.flatnonzero(~matched)
    ir, jr = i[rest], j[rest]
    rows, cols = np.zeros(len(row_n), bool), np.zeros(len(col_n), bool)
    rows[ir] = cols[jr] = True
    r_slot, c_slot = np.cumsum(rows) - 1, np.cumsum(cols) - 1
    shape = (int(r_slot[-1]) + 1, int(c_slot[-1]) + 1)
    sub, pair = np.full(shape, _BIG), np.empty(shape, np.intp)
    sub[r_slot[ir], c_slot[jr]] = cost[rest]
    pair[r_slot[ir], c_slot[jr]] = rest
    r, c = linear_sum_assignment(sub)
    keep = sub[r, c] < _BIG
    matched[pair[r[keep], c[keep]]] = True
    return i[matched], j[matched]


def solve(cost: Array) -> tuple[IntArray, IntArray]:
    """Minimum-cost matching on a dense matrix; ``inf`` entries are forbidden. Returns matched ``(rows, cols)``."""
    i, j = np.nonzero(np.isfinite(cost))
    return solve_pairs(i, j, cost[i, j])


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


def _pair_iou(a: Array, b: Array) -> Array:
    iw = np.minimum(a[:, 2], b[:, 2]) - np.maximum(a[:, 0], b[:, 0])
    ih = np.minimum(a[:, 3], b[:, 3]) - np.maximum(a[:, 1], b[:, 1])
    inter = np.maximum(iw, 0.0) * np.maximum(ih, 0.0)
    union = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1]) + (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1]) - inter
    ok = union != 0
    return np.where(ok, inter / np.where(ok, union, 1.0), 0.0)


def camera_radar_pairs(cam_pos: Array, cam_cls: npt.NDArray[np.int_], cam_boxes: Array | None,
                       radar_pos: Array, radar_cls: npt.NDArray[np.int_],
                       radar_boxes: Array | Callable[[IntArray], Array] | None, gate: Array,
                       iou_weight: float = 0.5) -> Pairs:
    """Candidate camera-radar pairs ``(i, j, cost)``.

    ``distance / gate`` on the ground plane + ``iou_weight * (1 - IoU)`` of the radar object's projected
    box with the detection box + the class penalty; only pairs within the gate (``gate``: per detection,
    metres) and of compatible classes. ``radar_boxes`` may be a function of radar indices, so that only
    radar objects near a detection are projected.
    """
    if len(cam_pos) == 0 or len(radar_pos) == 0:
        return _no_pairs()
    i, j, d = gated_pairs(cam_pos, radar_pos, float(gate.max()))
    c = d / gate[i] + COMPAT_COST[cam_cls[i], radar_cls[j]]
    ok = (d <= gate[i]) & (c < np.inf)
    i, j, c = i[ok], j[ok], c[ok]
    if cam_boxes is not None and radar_boxes is not None and len(i):
        if callable(radar_boxes):
            near = np.zeros(len(radar_pos), bool)
            near[j] = True
            slot = np.cumsum(near) - 1  # radar index -> row of the boxes of the radar objects near a detection
            rb = radar_boxes(np.flatnonzero(near))[slot[j]]
        else:
            rb = radar_boxes[j]
        c = c + iou_weight * (1.0 - _pair_iou(cam_boxes[i], rb))
    return i, j, c


def camera_radar_cost(cam_pos: Array, cam_cls: npt.NDArray[np.int_], cam_boxes: Array | None,
                      radar_pos: Array, radar_cls: npt.NDArray[np.int_],
                      radar_boxes: Array | Callable[[IntArray], Array] | None, gate: Array,
                      iou_weight: float = 0.5) -> Array:
    """:func:`camera_radar_pairs` as a dense matrix, ``inf`` where no pair."""
    cost = np.full((len(cam_pos), len(radar_pos)), np.inf)
    i, j, c = camera_radar_pairs(cam_pos, cam_cls, cam_boxes, radar_pos, radar_cls, radar_boxes, gate, iou_weight)
    cost[i, j] = c
    return cost


def track_pairs(track_pos: Array, track_var: Array, track_cls: npt.NDArray[np.int_], meas_pos: Array,
                meas_var: Array, meas_cls: npt.NDArray[np.int_], gate: Array, chi2: float = 13.8) -> Pairs:
    """Candidate track-measurement pairs ``(i, j, cost)``: normalised squared distance (isotropic
    innovation variance ``track_var + meas_var``) / ``chi2`` + class penalty; only pairs within ``gate``
    metres (per measurement) and ``chi2``, of compatible classes."""
    if len(track_pos) == 0 or len(meas_pos) == 0:
        return _no_pairs()
    i, j, d = gated_pairs(track_pos, meas_pos, float(gate.max()))
    m2 = d * d / (track_var[i] + meas_var[j])
    c = m2 / chi2 + COMPAT_COST[track_cls[i], meas_cls[j]]
    ok = (d <= gate[j]) & (m2 <= chi2) & (c < np.inf)
    return i[ok], j[ok], c[ok]


def track_cost(track_pos: Array, track_var: Array, track_cls: npt.NDArray[np.int_], meas_pos: Array,
               meas_var: Array, meas_cls: npt.NDArray[np.int_], gate: Array, chi2: float = 13.8) -> Array:
    """:func:`track_pairs` as a dense matrix, ``inf`` where no pair."""
    cost = np.full((len(track_pos), len(meas_pos)), np.inf)
    i, j, c = track_pairs(track_pos, track_var, track_cls, meas_pos, meas_var, meas_cls, gate, chi2)
    cost[i, j] = c
    return cost
