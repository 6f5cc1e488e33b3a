"""Label maps of the detectors rsu knows, and parsing of label maps stored in model metadata."""

from __future__ import annotations

import ast
import json

__all__ = ["COCO80", "parse_names"]

COCO80: tuple[str, ...] = (
    "person", "bicycle", "car", "motorcycle", "airplane", "bus", "train", "truck", "boat", "traffic light",
    "fire hydrant", "stop sign", "parking meter", "bench", "bird", "cat", "dog", "horse", "sheep", "cow",
    "elephant", "bear", "zebra", "giraffe", "backpack", "umbrella", "handbag", "tie", "suitcase", "frisbee",
    "skis", "snowboard", "sports ball", "kite", "baseball bat", "baseball glove", "skateboard", "surfboard",
    "tennis racket", "bottle", "wine glass", "cup", "fork", "knife", "spoon", "bowl", "banana", "apple",
    "sandwich", "orange", "broccoli", "carrot", "hot dog", "pizza", "donut", "cake", "chair", "couch",
    "potted plant", "bed", "dining table", "toilet", "tv", "laptop", "mouse", "remote", "keyboard", "cell phone",
    "microwave", "oven", "toaster", "sink", "refrigerator", "book", "clock", "vase", "scissors", "teddy bear",
    "hair drier", "toothbrush",
)


def parse_names(text: str) -> tuple[str, ...] | None:
    """A label map from metadata: a JSON list, or a ``{0: 'person', ...}`` dict (ultralytics' ``names``)."""
    for parse in (json.loads, ast.literal_eval):
        try:
            value = parse(text)
        except (ValueError, SyntaxError, TypeError):
            continue
        if isinstance(value, list) and all(isinstance(v, str) for v in value):
            return tuple(value)
        if isinstance(value, dict) and value:
            try:
                items = sorted((int(k), str(v)) for k, v in value.items())
            except (TypeError, ValueError):
                return None
            if [k for k, _ in items] == list(range(len(items))):
                return tuple(v for _, v in items)
    return None
