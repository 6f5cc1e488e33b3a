"""The camera detector as a stage: Frame -> Detections (runs on its own thread, newest frame first)."""

from __future__ import annotations

from typing import Any

from rsu_sdk import Detections, Frame, Product

from rsu.core.stage import BaseStage
from rsu.inference.detector import Detector


class DetectorStage(BaseStage):
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


def detector_stage(cfg: Any, problems: list[str], services: list[Any]) -> Any:
    """The detector worker stage the config asks for (timed, optionally offloading and rate-limited), or None
    when no camera is enabled. Problems are appended as ``models.detector: reason``; services it needs (the
    CPU sampler, the offload client) are appended to ``services``."""
    if not any(s.type == "camera" and s.enabled for s in cfg.sources):
        return None
    from rsu_sdk import RsuError

    from rsu.core.lifecycle import CallbackService
    from rsu.inference.session import ModelError
    from rsu.metrics.timing import LatencyHistogram, TimedStage

    try:
        detector = Detector.from_config(cfg.models.detector, protection=cfg.models.protection)
    except (OSError, ValueError, RsuError, ModelError) as exc:
        problems.append(f"models.detector.model: {exc}")
        return None
    stage: Any = TimedStage(DetectorStage(detector), LatencyHistogram(cfg.metrics.latency_buckets_ms))
    if cfg.tiered is not None and cfg.tiered.enabled:  # offload hard frames to the edge server
        from rsu.tiered.stage import TieredDetectorStage

        tiered = TieredDetectorStage(stage, cfg.tiered, cfg.privacy)
        services.append(CallbackService("tiered-client", on_stop=tiered.close))
        stage = tiered
    if cfg.pipeline.adaptive_rate.enabled:
        from rsu.pipeline.adaptive import AdaptiveRate, CpuSampler, RateLimitedStage

        rate = AdaptiveRate(cfg.pipeline.adaptive_rate)
        sampler = CpuSampler(rate)
        services.append(CallbackService("cpu-sampler", on_start=sampler.start, on_stop=sampler.stop))
        stage = RateLimitedStage(stage, rate)
    return stage
