"""Per-cycle measurements in ENU: camera detections, radar objects, and camera-radar pairs merged."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from rsu.fusion.classes import SIZES, UNKNOWN

__all__ = ["Measurements", "merge_pairs", "CENTER_OFFSET_M"]

Array = npt.NDArray[np.float64]

CENTER_OFFSET_M = np.array([1.3, 2.2, 0.15, 0.4, 0.5, 0.4])
"""How far behind the box's bottom-centre ground point (seen from the camera) each class's centre lies."""


@dataclass(slots=True)
class Measurements:
    """Parallel arrays of length M (one measurement each)."""

    pos: Array  # (M, 2) ENU
    pos_var: Array  # (M,)
    vel: Array  # (M, 2), NaN when unmeasured
    vel_var: Array  # (M,)
    cls: npt.NDArray[np.int64]  # (M,) index into CLASSES
    conf: Array  # (M,) camera confidence or radar probability of existence
    has_cam: npt.NDArray[np.bool_]
    has_radar: npt.NDArray[np.bool_]
    size: Array  # (M, 3) NaN when unmeasured
    src_mask: npt.NDArray[np.int64]  # bit i = source i of the engine's registry
    boxes: Array | None = None  # (M, 4) image boxes (camera only)

    def __len__(self) -> int:
        return int(self.pos.shape[0])

    @staticmethod
    def empty() -> Measurements:
        return Measurements(np.zeros((0, 2)), np.zeros(0), np.zeros((0, 2)), np.zeros(0), np.zeros(0, np.int64),
                            np.zeros(0), np.zeros(0, bool), np.zeros(0, bool), np.zeros((0, 3)),
                            np.zeros(0, np.int64), np.zeros((0, 4)))

    def take(self, idx: npt.ArrayLike) -> Measurements:
        i = np.asarray(idx, dtype=np.intp)
        return Measurements(self.pos[i], self.pos_var[i], self.vel[i], self.vel_var[i], self.cls[i], self.conf[i],
                            self.has_cam[i], self.has_radar[i], self.size[i], self.src_mask[i],
                            None if self.boxes is None else self.boxes[i])

    @staticmethod
    def concat(parts: list[Measurements]) -> Measurements:
        parts = [p for p in parts if len(p)]
        if not parts:
            return Measurements.empty()
        if len(parts) == 1:
            return parts[0]
        return Measurements(*(np.concatenate([getattr(p, f) for p in parts]) for f in (
            "pos", "pos_var", "vel", "vel_var", "cls", "conf", "has_cam", "has_radar", "size", "src_mask")))


def merge_pairs(cam: Measurements, radar: Measurements, ci: npt.ArrayLike, ri: npt.ArrayLike) -> Measurements:
    """One measurement per camera-radar pair: inverse-variance position, radar velocity and size,
    camera class (radar class when the camera's is unknown) and camera confidence."""
    c, r = cam.take(ci), radar.take(ri)
    w_c, w_r = 1.0 / c.pos_var, 1.0 / r.pos_var
    var = 1.0 / (w_c + w_r)
    pos = (c.pos * w_c[:, None] + r.pos * w_r[:, None]) * var[:, None]
    cls = np.where(c.cls == UNKNOWN, r.cls, c.cls)
    size = np.where(np.isnan(r.size), SIZES[cls], r.size)
    return Measurements(pos, var, r.vel, r.vel_var, cls, c.conf, np.ones(len(c), bool), np.ones(len(c), bool),
                        size, c.src_mask | r.src_mask)
