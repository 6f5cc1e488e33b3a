"""Which frames are hard enough to offload, judged from the local detector's result."""

from __future__ import annotations

import numpy as np
from rsu_sdk import Detections

from rsu.config.tiered import OffloadPolicyConfig

__all__ = ["OffloadPolicy", "overlapping_count"]


def overlapping_count(xyxy: np.ndarray, iou: float) -> int:
    """How many boxes overlap at least one other box with IoU >= ``iou``."""
    n = len(xyxy)
    if n < 2:
        return 0
    b = np.asarray(xyxy, dtype=np.float64)
    x1 = np.maximum(b[:, None, 0], b[None, :, 0])
    y1 = np.maximum(b[:, None, 1], b[None, :, 1])
    x2 = np.minimum(b[:, None, 2], b[None, :, 2])
    y2 = np.minimum(b[:, None, 3], b[None, :, 3])
    inter = np.clip(x2 - x1, 0, None) * np.clip(y2 - y1, 0, None)
    area = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    ious = inter / np.maximum(area[:, None] + area[None, :] - inter, 1e-9)
    np.fill_diagonal(ious, 0.0)
    return int((ious >= iou).any(axis=1).sum())


class OffloadPolicy:
    """``reason(dets)``: why this frame should go to the bigger model (``low_confidence``, ``crowded``,
    ``class:<name>``, ``every_frame``), or None to answer locally."""

    def __init__(self, cfg: OffloadPolicyConfig) -> None:
        self.cfg = cfg
        self._classes = frozenset(cfg.classes)

    def reason(self, dets: Detections) -> str | None:
        cfg = self.cfg
        if cfg.every_frame:
            return "every_frame"
        if self._classes:
            for label in dets.labels:
                if label in self._classes:
                    return f"class:{label}"
        if cfg.low_confidence is not None and len(dets) and float(dets.confidence.min()) < cfg.low_confidence:
            return "low_confidence"
        if cfg.overlapping_objects is not None and len(dets) >= cfg.overlapping_objects \
                and overlapping_count(dets.xyxy, cfg.overlap_iou) >= cfg.overlapping_objects:
            return "crowded"
        return None
