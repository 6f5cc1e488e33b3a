"""The camera detector as a stage: Frame -> Detections (runs on its own thread, newest frame first; frames of
several cameras batched into one model call when ``models.detector.batch_window_ms`` is set, see
:mod:`rsu.app.muxed_detector`)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
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
        self._ready: dict[int, Detections] = {}  # id(frame) -> its result from the last detect_batch

    def detect_batch(self, frames: Sequence[Frame]) -> None:
        """Run the model once on ``frames`` (one per camera); the next :meth:`process` of each of these frames
        returns its result from this call instead of running the model again."""
        self._ready = {}
        self._ready = {id(f): d for f, d in zip(frames, self.detector.detect(frames), strict=True)}

    def process(self, product: Product) -> list[Product]:
        assert isinstance(product, Frame)
        ready = self._ready.pop(id(product), None)
        results: list[Detections] = [ready] if ready is not None else self.detector.detect([product])
        self.frames += 1
        self.detections += sum(len(d) for d in results)
        return list(results)

    def stats(self) -> dict[str, Any]:
        return {"frames": self.frames, "detections": self.detections}


def detector_stage(cfg: Any, problems: list[str], services: list[Any],
                   emit_as: Callable[[str], Callable[[Product], None]] | None = None) -> Any:
    """The detector worker stage the config asks for (timed, optionally offloading, batching cameras and
    rate-limited), or None when no camera is enabled. Problems are appended as ``models.detector: reason``;
    services it needs (the CPU sampler, the offload client) are appended to ``services``. ``emit_as(name)``
    gives the box's input for a stage's products: the batching thread emits through it (without it, no
    batching)."""
    camera_ids = [s.id for s in cfg.sources if s.type == "camera" and s.enabled]
    cameras = len(camera_ids)
    if not cameras:
        return None
    from rsu_sdk import RsuError

    from rsu.app.muxed_detector import MuxedDetectorStage, batch_plan
    from rsu.core.lifecycle import CallbackService
    from rsu.inference.session import ModelError
    from rsu.metrics.timing import LatencyHistogram, TimedStage

    dcfg = cfg.models.detector
    try:
        detector = Detector.from_config(dcfg.model_copy(update={"batch": max(dcfg.batch, cameras)}),
                                        protection=cfg.models.protection)
    except (OSError, ValueError, RsuError, ModelError) as exc:
        problems.append(f"models.detector.model: {exc}")
        return None
    plan = batch_plan(dcfg, detector.backend.fixed_batch, cameras, dcfg.model,
                      (detector.backend.providers or ["CPUExecutionProvider"])[0]) if emit_as else None
    histogram = LatencyHistogram(cfg.metrics.latency_buckets_ms)
    plain = DetectorStage(detector)
    stage: Any = plain if plan else TimedStage(plain, histogram)
    if cfg.tiered is not None and cfg.tiered.enabled:  # offload hard frames to the edge server
        from rsu.tiered.stage import TieredDetectorStage

        tiered = TieredDetectorStage(stage, cfg.tiered, cfg.privacy)
        services.append(CallbackService("tiered-client", on_stop=tiered.close))
        stage = tiered
    if plan and emit_as is not None:  # frames of several cameras -> one model call
        window_ms, max_batch = plan
        stage = MuxedDetectorStage(plain, stage, window_ms=window_ms, max_batch=max_batch,
                                   emit=emit_as(plain.name), cameras=camera_ids, histogram=histogram)
        services.append(CallbackService("detector-muxer", on_stop=stage.close))
    if cfg.pipeline.adaptive_rate.enabled:
        from rsu.pipeline.adaptive import AdaptiveRate, CpuSampler, RateLimitedStage

        rate = AdaptiveRate(cfg.pipeline.adaptive_rate)
        sampler = CpuSampler(rate)
        services.append(CallbackService("cpu-sampler", on_start=sampler.start, on_stop=sampler.stop))
        stage = RateLimitedStage(stage, rate)
    return stage
