"""SSD box decoding (MediaPipe ``TensorsToDetectionsCalculator`` semantics) and its anchor grid.

Outputs: boxes ``(B, A, 4)`` as ``y, x, h, w`` offsets against anchors (scales 10/10/5/5 by default) and
class logits ``(B, A, C)`` (sigmoid). Class 0 is the background ``???`` and is ignored.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from rsu.inference.decoders.base import RawDetections

__all__ = ["SsdDecoder", "ssd_anchors"]


def ssd_anchors(input_size: tuple[int, int] = (300, 300), strides: Sequence[int] = (16, 32, 64, 128, 256, 512),
                min_scale: float = 0.2, max_scale: float = 0.95,
                aspect_ratios: Sequence[float] = (1.0, 2.0, 0.5, 3.0, 1.0 / 3.0),
                reduce_boxes_in_lowest_layer: bool = True, interpolated_scale_aspect_ratio: float = 1.0,
                offset: float = 0.5) -> np.ndarray:
    """Anchors ``(A, 4)`` as normalised ``y_center, x_center, h, w`` (MediaPipe ``SsdAnchorsCalculator``).

    The defaults are those of the Objectron SSD-MobileNetV2 graph (1917 anchors at 300x300).
    """
    w_in, h_in = input_size
    n = len(strides)

    def scale(i: int) -> float:
        return (min_scale + max_scale) / 2 if n == 1 else min_scale + (max_scale - min_scale) * i / (n - 1)

    rows: list[tuple[float, float, float, float]] = []
    for layer, stride in enumerate(strides):
        if layer == 0 and reduce_boxes_in_lowest_layer:
            ratios, scales = [1.0, 2.0, 0.5], [0.1, scale(0), scale(0)]
        else:
            ratios, scales = list(aspect_ratios), [scale(layer)] * len(aspect_ratios)
            if interpolated_scale_aspect_ratio > 0:
                nxt = 1.0 if layer == n - 1 else scale(layer + 1)
                ratios.append(interpolated_scale_aspect_ratio)
                scales.append(math.sqrt(scale(layer) * nxt))
        sizes = [(s / math.sqrt(r), s * math.sqrt(r)) for s, r in zip(scales, ratios)]
        fh, fw = math.ceil(h_in / stride), math.ceil(w_in / stride)
        for y in range(fh):
            for x in range(fw):
                for ah, aw in sizes:
                    rows.append(((y + offset) / fh, (x + offset) / fw, ah, aw))
    return np.asarray(rows, np.float32)


class SsdDecoder:
    """Decodes SSD outputs; finds the box and score tensors by shape (last axis 4 = boxes)."""

    name = "ssd"

    def __init__(self, anchors: np.ndarray, input_size: tuple[int, int],
                 scales: tuple[float, float, float, float] = (10.0, 10.0, 5.0, 5.0),
                 ignore_classes: Sequence[int] = (0,), sigmoid: bool = True) -> None:
        self.anchors = np.asarray(anchors, np.float32)
        self.input_size = input_size
        self.scales = scales
        self.ignore_classes = tuple(ignore_classes)
        self.sigmoid = sigmoid

    def _split(self, outputs: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
        boxes = next((o for o in outputs if o.ndim == 3 and o.shape[-1] == 4), None)
        scores = next((o for o in outputs if o.ndim == 3 and o.shape[-1] != 4), None)
        if boxes is None or scores is None or boxes.shape[1] != self.anchors.shape[0]:
            shapes = [o.shape for o in outputs]
            raise ValueError(f"SSD decoder: expected (B, {self.anchors.shape[0]}, 4) boxes and (B, "
                             f"{self.anchors.shape[0]}, C) scores, got {shapes}")
        return boxes, scores

    def decode(self, outputs: list[np.ndarray], index: int, conf_threshold: float) -> RawDetections:
        boxes, logits = self._split(outputs)
        logits = np.asarray(logits[index], np.float32).copy()
        if self.ignore_classes:
            logits[:, list(self.ignore_classes)] = -np.inf if self.sigmoid else 0.0
        cls = logits.argmax(1)
        best = logits[np.arange(cls.size), cls]
        score = 1.0 / (1.0 + np.exp(-best)) if self.sigmoid else best
        keep = np.flatnonzero(score > conf_threshold)
        raw = np.asarray(boxes[index][keep], np.float32)
        a = self.anchors[keep]
        ys, xs, hs, ws = self.scales
        yc = raw[:, 0] / ys * a[:, 2] + a[:, 0]
        xc = raw[:, 1] / xs * a[:, 3] + a[:, 1]
        h = np.exp(raw[:, 2] / hs) * a[:, 2]
        w = np.exp(raw[:, 3] / ws) * a[:, 3]
        wi, hi = self.input_size
        xyxy = np.stack([(xc - w / 2) * wi, (yc - h / 2) * hi, (xc + w / 2) * wi, (yc + h / 2) * hi], 1)
        return RawDetections(xyxy.astype(np.float32), score.astype(np.float32)[keep], cls[keep].astype(np.int32))
