"""The contract every detector output decoder follows."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np


@dataclass(frozen=True, slots=True)
class RawDetections:
    """Decoded, not yet suppressed, candidates of ONE image, in model-input pixels (before un-letterboxing).

    :param xyxy: ``(N, 4)`` float32 boxes ``x1, y1, x2, y2`` in the model's input pixel space.
    :param scores: ``(N,)`` float32 confidence.
    :param class_ids: ``(N,)`` int32 class indices into the model's label map.
    """

    xyxy: np.ndarray
    scores: np.ndarray
    class_ids: np.ndarray


class Decoder(Protocol):
    """Turns a model's raw outputs into candidates; NMS and box mapping are the runtime's job.

    ``outputs`` are the session's outputs for a whole batch (first axis = batch); ``index`` picks the image.
    Candidates below ``conf_threshold`` are already dropped.
    """

    name: str

    def decode(self, outputs: list[np.ndarray], index: int, conf_threshold: float) -> RawDetections: ...
