"""Vectorised non-maximum suppression (class-aware through coordinate offsets) and IoU."""

from __future__ import annotations

import numpy as np

__all__ = ["box_iou", "nms", "batched_nms"]


def box_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """IoU of every box of ``a`` ``(N, 4)`` with every box of ``b`` ``(M, 4)``, boxes ``x1, y1, x2, y2``."""
    a = np.asarray(a, np.float32).reshape(-1, 4)
    b = np.asarray(b, np.float32).reshape(-1, 4)
    area_a = np.clip(a[:, 2] - a[:, 0], 0, None) * np.clip(a[:, 3] - a[:, 1], 0, None)
    area_b = np.clip(b[:, 2] - b[:, 0], 0, None) * np.clip(b[:, 3] - b[:, 1], 0, None)
    lt = np.maximum(a[:, None, :2], b[None, :, :2])
    rb = np.minimum(a[:, None, 2:], b[None, :, 2:])
    wh = np.clip(rb - lt, 0, None)
    inter = wh[..., 0] * wh[..., 1]
    union = area_a[:, None] + area_b[None, :] - inter
    return np.where(union > 0, inter / np.maximum(union, 1e-9), 0.0).astype(np.float32)


def nms(boxes: np.ndarray, scores: np.ndarray, iou_threshold: float, max_detections: int = 300,
        max_candidates: int = 4096) -> np.ndarray:
    """Greedy NMS; returns kept indices, best score first.

    The IoU of all candidates is computed at once (``max_candidates`` best kept, so memory stays bounded);
    the greedy pass then only flips boolean rows.
    """
    scores = np.asarray(scores, np.float32)
    if scores.size == 0:
        return np.zeros(0, np.int64)
    order = np.argsort(-scores, kind="stable")[:max_candidates]
    iou = box_iou(boxes[order], boxes[order])
    n = order.size
    suppressed = np.zeros(n, bool)
    keep: list[int] = []
    for i in range(n):
        if suppressed[i]:
            continue
        keep.append(i)
        if len(keep) >= max_detections:
            break
        suppressed[i + 1:] |= iou[i, i + 1:] > iou_threshold
    return order[np.asarray(keep, np.int64)]


def batched_nms(boxes: np.ndarray, scores: np.ndarray, class_ids: np.ndarray, iou_threshold: float,
                max_detections: int = 300) -> np.ndarray:
    """Class-aware NMS: boxes of different classes never suppress each other (offset per class)."""
    boxes = np.asarray(boxes, np.float32).reshape(-1, 4)
    if boxes.shape[0] == 0:
        return np.zeros(0, np.int64)
    span = float(boxes.max() - min(boxes.min(), 0.0)) + 1.0
    offset = np.asarray(class_ids, np.float32)[:, None] * span
    return nms(boxes + offset, scores, iou_threshold, max_detections)
