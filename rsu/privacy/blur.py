"""Blur people's heads and vehicles' licence-plate areas before a frame leaves the box.

The heuristic (no face or plate detector runs; it works from the object detector's boxes):

- **heads/faces**: the top ``head_fraction`` (default 28 %) of every person box, full box width. An upright
  adult's head is about 1/7 to 1/8 of body height; 28 % also covers a raised head, a hood, a box that starts
  at the shoulders, or a sitting person. A person seen lying down or upside down is not covered.
- **plates**: a band of every vehicle box, vertically ``plate_band`` (default 55 %-100 % of the box height,
  from the top) and horizontally the central ``plate_width`` (70 %). Front and rear plates of cars, vans,
  buses and trucks seen from a road-side pole sit in the lower-middle of the box. A plate near a box corner
  (vehicle seen side-on at a steep angle), or on a vehicle the detector missed, is NOT blurred.

It over-blurs on purpose; it is a safeguard on top of careful camera placement, not a guarantee.
"""

from __future__ import annotations

from collections.abc import Iterable

import cv2
import numpy as np
from rsu_sdk import Detections, Frame

from rsu.config.models import PrivacyConfig

__all__ = ["privacy_regions", "blur_regions", "Redactor"]


def privacy_regions(dets: Detections, cfg: PrivacyConfig) -> np.ndarray:
    """``(K, 4)`` int boxes ``x1, y1, x2, y2`` (clipped to the image) to blur for these detections."""
    person, vehicle = set(cfg.person_classes), set(cfg.vehicle_classes)
    w, h = dets.image_size
    out: list[list[float]] = []
    for (x1, y1, x2, y2), label in zip(dets.xyxy.tolist(), dets.labels):
        bh, bw = y2 - y1, x2 - x1
        if label in person:
            out.append([x1, y1, x2, y1 + cfg.head_fraction * bh])
        elif label in vehicle:
            lo, hi = cfg.plate_band
            mx = (1 - cfg.plate_width) / 2 * bw
            out.append([x1 + mx, y1 + lo * bh, x2 - mx, y1 + hi * bh])
    if not out:
        return np.zeros((0, 4), np.int32)
    boxes = np.asarray(out, np.float64)
    boxes[:, [0, 2]] = np.clip(np.floor(boxes[:, [0, 2]]), 0, w)
    boxes[:, [1, 3]] = np.clip(np.ceil(boxes[:, [1, 3]]), 0, h)
    boxes = boxes.astype(np.int32)
    return boxes[(boxes[:, 2] > boxes[:, 0]) & (boxes[:, 3] > boxes[:, 1])]


def blur_regions(image: np.ndarray, regions: Iterable[Iterable[int]], method: str = "gaussian") -> np.ndarray:
    """A copy of ``image`` with each region made unrecognisable (strong Gaussian blur or coarse pixelation)."""
    out = np.array(image, copy=True)
    for x1, y1, x2, y2 in regions:
        roi = out[y1:y2, x1:x2]
        if roi.size == 0:
            continue
        rh, rw = roi.shape[:2]
        if method == "pixelate":  # at most 8 coarse blocks across, each at least 10 px
            small = cv2.resize(roi, (max(1, min(8, rw // 10)), max(1, min(8, rh // 10))), interpolation=cv2.INTER_AREA)
            out[y1:y2, x1:x2] = cv2.resize(small, (rw, rh), interpolation=cv2.INTER_NEAREST)
        else:
            k = max(rw, rh) // 2 * 2 + 1  # kernel as large as the region: nothing of the detail survives
            sigma = max(rw, rh) / 3.0
            blurred = cv2.GaussianBlur(roi, (k, k), sigma, borderType=cv2.BORDER_REPLICATE)
            out[y1:y2, x1:x2] = cv2.GaussianBlur(blurred, (k, k), sigma, borderType=cv2.BORDER_REPLICATE)
    return out


class Redactor:
    """Applies the ``privacy`` config: ``redact(frame, detections)`` returns the frame to send out."""

    def __init__(self, cfg: PrivacyConfig | None = None) -> None:
        self.cfg = cfg or PrivacyConfig()
        self.frames = 0
        self.regions = 0

    @property
    def enabled(self) -> bool:
        return self.cfg.blur

    def redact_image(self, image: np.ndarray, dets: Detections) -> np.ndarray:
        if not self.cfg.blur:
            return image
        regions = privacy_regions(dets, self.cfg)
        self.frames += 1
        self.regions += len(regions)
        return blur_regions(image, regions, self.cfg.method)

    def redact(self, frame: Frame, dets: Detections) -> Frame:
        """The frame with heads and plate areas blurred (the same frame when ``privacy.blur`` is false)."""
        if not self.cfg.blur:
            return frame
        if dets.image_size != frame.size:
            raise ValueError(f"Redactor.redact: detections are for {dets.image_size}, frame is {frame.size}")
        from dataclasses import replace

        return replace(frame, image=self.redact_image(frame.image, dets))
