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


def merge_pairs(cam: Measurements, radar: Measurements, ci: npt.NDArray[np.intp],
                ri: npt.NDArray[np.intp]) -> Measurements:
    """All measurements of a cycle: first one per camera-radar pair ``(ci[k], ri[k])``, then the unpaired
    camera detections, then the unpaired radar objects.

    A pair has the inverse-variance position, the radar's velocity and size, the camera's class (the
    radar's when the camera's is unknown) and the camera's confidence.
    """
    nc, k = len(cam), len(ci)
    cam_rest, radar_rest = np.ones(nc, bool), np.ones(len(radar), bool)
    cam_rest[ci] = False
    radar_rest[ri] = False
    rest = np.concatenate([np.flatnonzero(cam_rest), nc + np.flatnonzero(radar_rest)])
    from_cam, from_radar = np.concatenate([ci, rest]), np.concatenate([nc + ri, rest])

    def pick(name: str, rows: npt.NDArray[np.intp]) -> npt.NDArray[np.generic]:
        return np.concatenate([getattr(cam, name), getattr(radar, name)])[rows]

    w_c, w_r = 1.0 / cam.pos_var[ci], 1.0 / radar.pos_var[ri]
    var = 1.0 / (w_c + w_r)
    pos, pos_var = pick("pos", from_cam), pick("pos_var", from_cam)
    pos[:k] = (cam.pos[ci] * w_c[:, None] + radar.pos[ri] * w_r[:, None]) * var[:, None]
    pos_var[:k] = var
    cls = pick("cls", from_cam)
    cls[:k] = np.where(cls[:k] == UNKNOWN, radar.cls[ri], cls[:k])
    has_cam, has_radar = pick("has_cam", from_cam), pick("has_radar", from_radar)
    has_cam[:k] = has_radar[:k] = True
    size = pick("size", from_radar)
    size[:k] = np.where(np.isnan(size[:k]), SIZES[cls[:k]], size[:k])
    src_mask = pick("src_mask", from_cam)
    src_mask[:k] |= radar.src_mask[ri]
    return Measurements(pos, pos_var, pick("vel", from_radar), pick("vel_var", from_radar), cls,
                        pick("conf", from_cam), has_cam, has_radar, size, src_mask)
