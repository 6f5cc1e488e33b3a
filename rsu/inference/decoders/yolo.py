"""YOLO head decoders (vectorised numpy), boxes ``cx, cy, w, h`` in model-input pixels.

- ``yolov5``: the classic anchor-based YOLOv5 head as exported by the original YOLOv5 code, one output
  ``[B, 3 * cells, 5 + C]`` = ``cx, cy, w, h, objectness, C class scores`` (sigmoid and grid already applied
  in the graph); the score of a box is ``objectness * class score``.
- ``yolov8``: the anchor-free YOLOv5u / v8 / 11 head as exported by ultralytics, one output ``[B, 4 + C, cells]``
  = ``cx, cy, w, h, C class scores`` (no objectness); ``[B, cells, 4 + C]`` (transposed exports) is read too.

``cells`` at input ``W x H`` with strides 8/16/32 is ``sum((W/s) * (H/s))``: 8400 at 640x640.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from rsu.inference.decoders.base import RawDetections

__all__ = ["YoloV5Decoder", "YoloV8Decoder", "grid_cells", "register_decoders"]

STRIDES = (8, 16, 32)


def grid_cells(input_size: tuple[int, int], strides: Sequence[int] = STRIDES) -> int:
    """Number of grid cells over all strides for ``input_size`` = ``(width, height)``."""
    w, h = input_size
    return int(sum(-(-w // s) * -(-h // s) for s in strides))


def _cxcywh_to_xyxy(cx: np.ndarray, cy: np.ndarray, w: np.ndarray, h: np.ndarray) -> np.ndarray:
    hw, hh = w * 0.5, h * 0.5
    return np.stack([cx - hw, cy - hh, cx + hw, cy + hh], axis=1).astype(np.float32, copy=False)


def _single_output(outputs: list[np.ndarray], who: str) -> np.ndarray:
    out = next((o for o in outputs if getattr(o, "ndim", 0) == 3), None)
    if out is None:
        raise ValueError(f"{who} decoder: expected one (B, N, K) output, got {[np.shape(o) for o in outputs]}")
    return out


class YoloV5Decoder:
    """Anchor-based YOLOv5 head: ``[B, N, 5 + C]``, score = objectness x class score."""

    name = "yolov5"

    def __init__(self, num_classes: int | None = None) -> None:
        self.num_classes = num_classes

    def decode(self, outputs: list[np.ndarray], index: int, conf_threshold: float) -> RawDetections:
        out = _single_output(outputs, "yolov5")[index]
        if out.shape[-1] < 6 or (self.num_classes is not None and out.shape[-1] != 5 + self.num_classes):
            want = "5 + C" if self.num_classes is None else str(5 + self.num_classes)
            raise ValueError(f"yolov5 decoder: expected (B, N, {want}) output, got {(None, *out.shape)}")
        cand = np.flatnonzero(out[:, 4] > conf_threshold)  # obj * cls <= obj: cheap pre-filter
        rows = out[cand]
        cls_scores = rows[:, 5:] * rows[:, 4:5]
        class_ids = cls_scores.argmax(axis=1)
        scores = cls_scores[np.arange(class_ids.size), class_ids]
        keep = scores > conf_threshold
        rows = rows[keep]
        xyxy = _cxcywh_to_xyxy(rows[:, 0], rows[:, 1], rows[:, 2], rows[:, 3])
        return RawDetections(xyxy, scores[keep].astype(np.float32), class_ids[keep].astype(np.int32))


class YoloV8Decoder:
    """Anchor-free YOLOv5u/v8 head: ``[B, 4 + C, N]`` (or ``[B, N, 4 + C]`` with ``transposed=True``)."""

    name = "yolov8"

    def __init__(self, num_classes: int | None = None, transposed: bool | None = None) -> None:
        self.num_classes = num_classes
        self.transposed = transposed

    def _channels_first(self, out: np.ndarray) -> np.ndarray:
        transposed = self.transposed
        if transposed is None:  # boxes+classes are far fewer than cells for any real input size
            transposed = out.shape[0] > out.shape[1]
        return out.T if transposed else out

    def decode(self, outputs: list[np.ndarray], index: int, conf_threshold: float) -> RawDetections:
        out = self._channels_first(_single_output(outputs, "yolov8")[index])
        if out.shape[0] < 5 or (self.num_classes is not None and out.shape[0] != 4 + self.num_classes):
            want = "4 + C" if self.num_classes is None else str(4 + self.num_classes)
            raise ValueError(f"yolov8 decoder: expected (B, {want}, N) output, got {(None, *out.shape)}")
        cls = out[4:]
        best = cls.max(axis=0)
        keep = np.flatnonzero(best > conf_threshold)
        class_ids = cls[:, keep].argmax(axis=0)
        box = out[:4, keep]
        xyxy = _cxcywh_to_xyxy(box[0], box[1], box[2], box[3])
        return RawDetections(xyxy, best[keep].astype(np.float32), class_ids.astype(np.int32))


# --- registry entries (picked up by rsu.inference.decoders.registry.default_registry) ---------------------


def _shape3(info: Any) -> tuple[Any, ...] | None:
    shapes = [tuple(s) for s in info.output_shapes]
    return shapes[0] if len(shapes) == 1 and len(shapes[0]) == 3 else None


def _v5_matches(info: Any) -> bool:
    shape = _shape3(info)
    if shape is None or not isinstance(shape[2], int):
        return False
    return shape[1] == 3 * grid_cells(info.input_size) and shape[2] >= 6


def _metadata_classes(info: Any) -> int | None:
    """How many classes an ultralytics export's ``names`` metadata lists (``{0: 'person', ...}``), or None."""
    import ast

    try:
        names = ast.literal_eval(info.metadata.get("names", "None"))
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        return None
    return len(names) if isinstance(names, (dict, list, tuple)) and names else None


def _v8_layout(info: Any) -> bool | None:
    """False for ``[B, 4+C, N]``, True for ``[B, N, 4+C]``, None when the shapes are not this head.

    With a dynamic input size the number of cells ``N`` is symbolic: then the head is recognised by ``4 + C``
    channels, ``C`` from the export's ``names`` metadata."""
    shape = _shape3(info)
    if shape is None:
        return None
    cells = grid_cells(info.input_size)
    if shape[2] == cells and isinstance(shape[1], int) and shape[1] >= 5:
        return False
    if shape[1] == cells and isinstance(shape[2], int) and shape[2] >= 5:
        return True
    classes = _metadata_classes(info)
    if classes is not None:
        if not isinstance(shape[2], int) and shape[1] == 4 + classes:
            return False
        if not isinstance(shape[1], int) and shape[2] == 4 + classes:
            return True
    return None


def _v5_build(info: Any) -> YoloV5Decoder:
    shape = _shape3(info)
    return YoloV5Decoder(num_classes=int(shape[2]) - 5 if shape and isinstance(shape[2], int) else None)


def _v8_build(info: Any) -> YoloV8Decoder:
    shape = _shape3(info)
    transposed = _v8_layout(info)
    channels = shape[2] if transposed else shape[1] if shape else None
    return YoloV8Decoder(num_classes=int(channels) - 4 if isinstance(channels, int) else None, transposed=transposed)


def register_decoders(registry: Any) -> None:
    """Add the ``yolov5`` (anchor-based) and ``yolov8`` (anchor-free, also YOLOv5u) entries."""
    from rsu.inference.decoders.registry import DecoderEntry
    from rsu.inference.labels import COCO80

    yolo_input = {"resize": "letterbox", "color": "rgb", "mean": (0.0, 0.0, 0.0), "std": (255.0, 255.0, 255.0)}
    registry.register(DecoderEntry(name="yolov8", build=_v8_build, matches=lambda i: _v8_layout(i) is not None,
                                   preprocess=yolo_input, class_names=COCO80))
    registry.register(DecoderEntry(name="yolov5", build=_v5_build, matches=_v5_matches,
                                   preprocess=yolo_input, class_names=COCO80))
