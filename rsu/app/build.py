"""Config -> a ready-to-run box: publisher, plugins, sources, stages. Start-up problems are one clear line each."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rsu_sdk import Product, RsuError, SourceSpec

from rsu.app.host import Box, Source
from rsu.app.outputs import Outputs
from rsu.app.stats import RunStats
from rsu.config import RsuConfig

log = logging.getLogger(__name__)


class StartupError(RsuError):
    """The box cannot start; the message names each problem on its own line."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("cannot start:\n  " + "\n  ".join(problems))


@dataclass
class BuiltBox:
    """A box assembled from a config, with what a person needs to know to watch it."""

    box: Box
    config: RsuConfig
    endpoint: str
    notes: list[str] = field(default_factory=list)
    closers: list[Callable[[], None]] = field(default_factory=list)
    services: Any = None  # rsu.web.service.Observability: metrics registry, dashboard state, web server

    def banner(self) -> str:
        cfg = self.config
        lines = [
            f"rsu: site {cfg.site.name!r}, {len(self.box.sources)} source(s), "
            f"plugins: {', '.join(cfg.plugins.enabled) or 'none'}",
            f"rsu: publishing on {self.endpoint}; watch with: rsu tap {self.endpoint} --topic rsu/{cfg.site.name}/",
            *(f"rsu: {n}" for n in self.notes),
        ]
        return "\n".join(lines)

    def run(self, seconds: float | None, should_stop: Callable[[], bool]) -> None:
        try:
            if self.services is not None:
                self.services.start()
            self.box.run(seconds, should_stop=should_stop)
        finally:
            for close in self.closers:
                close()

    def summary(self) -> dict[str, Any]:
        return self.box.summary(site=self.config.site.name, endpoint=self.endpoint)


class PluginSource:
    """Adapts a plugin's :class:`~rsu_sdk.SourceSpec` (a generator of products) to the host's source API."""

    def __init__(self, source_id: str, spec: SourceSpec, settings: dict[str, Any]) -> None:
        self.id = source_id
        self.spec = spec
        self.settings = settings
        self.emitted = 0
        self.errors = 0

    def run(self, emit: Callable[[Product], None], stop: threading.Event) -> None:
        try:
            products: Iterator[Product] = iter(self.spec.open(self.settings, stop.is_set))
            for product in products:
                emit(product)
                self.emitted += 1
                if stop.is_set():
                    break
        except Exception:  # a plugin's source must not take the box down
            self.errors += 1
            log.exception("source %s (plugin kind %s) failed", self.id, self.spec.kind)

    def stats(self) -> dict[str, Any]:
        return {"kind": self.spec.kind, "emitted": self.emitted, "errors": self.errors}


def _local_path(value: str, base_dir: Path) -> Path | None:
    """``value`` as a local file path (relative ones against ``base_dir``), or None for URLs and devices."""
    if "://" in value or value.startswith(("gst:", "/dev/")) or value.isdigit() or " ! " in value:
        return None
    path = Path(value).expanduser()
    return path if path.is_absolute() else (base_dir / path)


def _build_sources(cfg: RsuConfig, base_dir: Path, plugin_kinds: dict[str, SourceSpec],
                   problems: list[str]) -> list[Source]:
    sources: list[Source] = []
    for i, src in enumerate(cfg.sources):
        where = f"sources[{i}] ({src.id})"
        if not src.enabled:
            continue
        kind = src.type
        try:
            if kind == "camera":
                from rsu.sources.camera import CameraSource

                path = _local_path(src.url, base_dir)
                if path is not None:
                    if not path.exists():
                        problems.append(f"{where}: camera file not found: {path}")
                        continue
                    src = src.model_copy(update={"url": str(path)})
                sources.append(CameraSource(src))
            elif kind == "ars408":
                from rsu.sources.ars408.source import Ars408Source

                sources.append(Ars408Source.from_config(src))
            elif kind == "radar_udp":
                from rsu.sources.radar_udp import UdpRadarSource

                sources.append(UdpRadarSource.from_config(src))
            elif kind == "replay":
                from rsu.sources.replay import ReplaySource

                path = _local_path(src.path, base_dir) or Path(src.path)
                if not path.is_dir():
                    problems.append(f"{where}: recording folder not found: {path} "
                                    f"(make one with: rsu simulate intersection --out {src.path})")
                    continue
                sources.append(ReplaySource.from_config(src.model_copy(update={"path": str(path)})))
            elif kind == "sensor_replay":
                from rsu.sources.sensor_replay import SensorReplaySource

                path = _local_path(src.path, base_dir) or Path(src.path)
                if not path.exists():
                    problems.append(f"{where}: recording not found: {path} "
                                    f"(make one with: rsu simulate furnace --out {src.path})")
                    continue
                sources.append(SensorReplaySource(src.id, path, speed=src.speed, rebase_time=src.rebase_time,
                                                  loop=src.loop))
            elif kind == "air_station":
                from rsu.sources.air_station import AirStationSource

                sources.append(AirStationSource(src))
            elif kind in plugin_kinds:
                settings = {k: v for k, v in (src.model_extra or {}).items()}
                sources.append(PluginSource(src.id, plugin_kinds[kind], settings))
            else:
                known = ["camera", "ars408", "radar_udp", "replay", "sensor_replay", "air_station", *sorted(plugin_kinds)]
                problems.append(f"{where}.type: unknown source type {kind!r}; known: {', '.join(known)}")
        except (OSError, ValueError, RsuError) as exc:
            problems.append(f"{where}: {exc}")
    return sources


def _build_stages(cfg: RsuConfig, *, emit: Callable[[Product], None], base_dir: Path, stats: RunStats,
                  problems: list[str], closers: list[Callable[[], None]], pm: Any = None
                  ) -> tuple[list[Any], list[Any]]:
    """The detector (own thread, adaptive rate) and the keyed operators (fusion, fault windows) on the runner.

    ``pm``: the plugin manager, whose registered models the fault predictor runs (rsu/app/fault_setup.py)."""
    inline: list[Any] = []
    workers: list[Any] = []
    if any(s.type == "camera" and s.enabled for s in cfg.sources):
        from rsu.app.perception import DetectorStage
        from rsu.inference.detector import Detector
        from rsu.inference.session import ModelError
        from rsu.metrics.timing import LatencyHistogram, TimedStage

        try:
            stage: Any = TimedStage(DetectorStage(Detector.from_config(cfg.models.detector,
                                                                       protection=cfg.models.protection)),
                                    LatencyHistogram(cfg.metrics.latency_buckets_ms))
        except (OSError, ValueError, RsuError, ModelError) as exc:
            problems.append(f"models.detector: {exc}")
        else:
            if cfg.tiered is not None and cfg.tiered.enabled:  # offload hard frames to the edge server
                from rsu.tiered.stage import TieredDetectorStage

                stage = TieredDetectorStage(stage, cfg.tiered, cfg.privacy)
                closers.append(stage.close)
            if cfg.pipeline.adaptive_rate.enabled:
                from rsu.pipeline.adaptive import AdaptiveRate, CpuSampler, RateLimitedStage

                rate = AdaptiveRate(cfg.pipeline.adaptive_rate)
                sampler = CpuSampler(rate)
                sampler.start()
                closers.append(sampler.stop)
                stage = RateLimitedStage(stage, rate)
            workers.append(stage)
    from rsu.app.fault_setup import fault_prediction
    from rsu.pipeline.assemble import operator_stage, operators_from_config

    fault = fault_prediction(cfg, pm, problems)
    if cfg.federated is not None:  # hot-swap new global fault-model versions (rsu/federated/wiring.py)
        from rsu.federated.wiring import attach_hot_swap

        attach_hot_swap(cfg, fault, closers)
    if fault.stage is not None:  # modes inline / worker: a host stage, not checkpointed
        if fault.mode == "worker":
            fault.stage.start(emit)
            closers.append(fault.stage.close)
        inline.append(fault.stage)
    operators = operators_from_config(cfg, extra=fault.operators)
    if operators:
        inline.append(operator_stage(cfg, operators, emit=emit, base_dir=base_dir, stats=stats))
    return inline, workers


def build_box(cfg: RsuConfig, *, base_dir: Path, state_root: Path | None = None) -> BuiltBox:
    """Assemble the box ``cfg`` describes; raise :class:`StartupError` listing every problem."""
    from rsu.plugins.host import PluginHost
    from rsu.plugins.manager import PluginLoadError
    from rsu.plugins.registry import collect_sources
    from rsu.publish.zmq_publisher import ZmqPublisher

    problems: list[str] = []
    stats = RunStats()
    box_ref: list[Box] = []

    def ingest(product: Product) -> None:
        box_ref[0].ingest(product)

    try:
        publisher = ZmqPublisher.from_config(cfg)
    except Exception as exc:  # zmq.ZMQError (address in use, bad endpoint) or a CURVE key problem
        raise StartupError([f"publish.zmq.endpoint {cfg.publish.zmq.endpoint}: {exc}"]) from None
    if cfg.publish.uplink.enabled:  # thin / batch / hold products by priority as the link slows
        from rsu.publish.uplink import UplinkPublisher

        publisher = UplinkPublisher(publisher, cfg.publish.uplink)  # type: ignore[assignment]
    try:
        plugins = PluginHost.from_config(cfg, publisher=publisher, emit_sink=ingest, state_root=state_root)
    except PluginLoadError as exc:
        publisher.close()
        raise StartupError(list(exc.problems)) from None
    plugin_kinds = collect_sources(plugins.loaded.pm)
    sources = _build_sources(cfg, base_dir, plugin_kinds, problems)
    closers: list[Callable[[], None]] = []
    inline, workers = _build_stages(cfg, emit=ingest, base_dir=base_dir, stats=stats, problems=problems,
                                    closers=closers, pm=plugins.loaded.pm)
    if problems:
        for close in closers:
            close()
        publisher.close()
        raise StartupError(problems)
    from rsu.power.stage import power_stages

    inline += power_stages(cfg, workers=workers, closers=closers)  # idle CPU cap (power.enabled)
    outputs = Outputs(publisher, plugins, stats)
    box = Box(sources=sources, sink=outputs, inline_stages=inline, worker_stages=workers, stats=stats,
              queue_size=cfg.pipeline.queue.size, drop_policy=cfg.pipeline.queue.drop_policy)
    box_ref.append(box)
    built = BuiltBox(box=box, config=cfg, endpoint=publisher.endpoint, closers=closers)
    from rsu.web.service import attach

    try:
        built.services = attach(built)  # metrics, dashboard live state (output taps), web server bound
    except RsuError as exc:
        for close in closers:
            close()
        publisher.close()
        raise StartupError([str(exc)]) from None
    closers.append(built.services.close)
    plugins.start()
    return built
