"""The camera detector as a stage: Frame -> Detections (runs on its own thread, newest frame first)."""

from __future__ import annotations

from typing import Any

from rsu_sdk import Detections, Frame, Product

from rsu.inference.detector import Detector


class DetectorStage:
    """Runs the configured detector on each frame it is offered."""

    name = "detector"
    handles: tuple[type, ...] = (Frame,)

    def __init__(self, detector: Detector) -> None:
        self.detector = detector
        self.frames = 0
        self.detections = 0

    def process(self, product: Product) -> list[Product]:
        assert isinstance(product, Frame)
        results: list[Detections] = self.detector.detect([product])
        self.frames += 1
        self.detections += sum(len(d) for d in results)
        return list(results)

    def stats(self) -> dict[str, Any]:
        return {"frames": self.frames, "detections": self.detections}
