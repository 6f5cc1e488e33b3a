"""Camera-radar fusion and tracking as a stage: Detections / RadarScan -> ObjectList."""

from __future__ import annotations

from typing import Any

from rsu_sdk import Detections, Product, RadarScan

from rsu.fusion.engine import FusionEngine


class FusionStage:
    """Feeds the event-time driven :class:`FusionEngine`; emits an ObjectList per released fusion cycle."""

    name = "fusion"
    handles: tuple[type, ...] = (Detections, RadarScan)

    def __init__(self, engine: FusionEngine) -> None:
        self.engine = engine

    def process(self, product: Product) -> list[Product]:
        if isinstance(product, Detections):
            return list(self.engine.on_detections(product))
        assert isinstance(product, RadarScan)
        return list(self.engine.on_radar(product))

    def finish(self, end_of_input: bool = False) -> list[Product]:
        """At shutdown: release what the aligner still buffers."""
        return list(self.engine.flush())

    def stats(self) -> dict[str, Any]:
        return self.engine.stats()
