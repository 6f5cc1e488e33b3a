"""Config -> a ready-to-run box. Each part comes from its own factory; start-up problems are one line each.

Parts, in graph order: the sources (:mod:`rsu.app.source_types`), the detector worker
(:func:`rsu.app.perception.detector_stage`), fault prediction (:mod:`rsu.app.fault_setup`), the operator
runner (:mod:`rsu.pipeline.assemble`), the power stage; then the outputs (publisher, plugins) and the services
the box owns (heartbeat, web server, samplers), stopped in reverse order. A build that fails part-way closes
what it had built so far, in reverse order too (an :class:`~contextlib.ExitStack`).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping, Sequence
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rsu_sdk import Product, RsuError, SourceSpec

from rsu.app.box import Box
from rsu.app.outputs import Outputs
from rsu.app.source_types import build_sources, yields_readings
from rsu.config import RsuConfig
from rsu.core.clock import SYSTEM_CLOCK, Clock
from rsu.core.envelope import stage_origin
from rsu.core.lanes import InputPolicy
from rsu.core.lifecycle import CallbackService, Service
from rsu.core.stats import RunStats

__all__ = ["BuiltBox", "StartupError", "build_box", "input_policies"]

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
    services: Any = None  # rsu.web.service.Observability: metrics registry, dashboard state, web server
    live_sources: Any = None  # rsu.app.live_sources.LiveSources: add, remove, restart sources (/api/sources)

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
        self.box.run(seconds, should_stop=should_stop)

    def summary(self) -> dict[str, Any]:
        return self.box.summary(site=self.config.site.name, endpoint=self.endpoint)


def input_policies(cfg: RsuConfig, sources: list[tuple[Any, Any]],
                   table: Mapping[str, SourceSpec] | None = None) -> dict[str, InputPolicy]:
    """Each source's lane: bounded by its longest queue wait (per source kind: camera frames shed, plant and
    air readings by ``readings_max_age_ms``), or lossless (back-pressure) for recordings played unpaced.

    :param table: the source-type table (plugin kinds included), to tell which kinds yield readings.
    """
    pc, fresh = cfg.pipeline, cfg.pipeline.freshness
    late = None if fresh.late_after_ms is None else int(fresh.late_after_ms * 1e6)
    out: dict[str, InputPolicy] = {}
    for src_cfg, source in sources:
        unpaced = getattr(src_cfg, "speed", 1.0) == 0
        if unpaced:
            out[source.id] = InputPolicy(None, pc.queue.size, "block")
        elif fresh.enabled:
            age_ms = fresh.max_age_for(src_cfg.id, src_cfg.type, yields_readings(src_cfg.type, dict(table or {})))
            out[source.id] = InputPolicy(None if age_ms is None else int(age_ms * 1e6), fresh.capacity,
                                         "drop_oldest", late)
        else:
            out[source.id] = InputPolicy(None, pc.queue.size, pc.queue.drop_policy, late)
    return out


def _stages(cfg: RsuConfig, *, emit_as: Callable[[str], Callable[[Product], None]], base_dir: Path,
            stats: RunStats, problems: list[str], services: list[Service], pm: Any,
            activity: Callable[[str], int | None]) -> tuple[list[Any], list[Any]]:
    """``(inline stages, worker stages)``: the detector worker, fault prediction and the operator runner."""
    from rsu.app.fault_setup import fault_prediction
    from rsu.app.perception import detector_stage
    from rsu.pipeline.assemble import operator_stage, operators_from_config

    workers = [s for s in [detector_stage(cfg, problems, services, emit_as)] if s is not None]
    inline: list[Any] = []
    fault = fault_prediction(cfg, pm, problems)
    if cfg.federated is not None:  # hot-swap new global fault-model versions (rsu/federated/wiring.py)
        from rsu.federated.wiring import attach_hot_swap

        watcher = attach_hot_swap(cfg, fault)
        if watcher is not None:
            services.append(CallbackService("fault-model-watcher", on_start=watcher.start, on_stop=watcher.stop))
    if fault.stage is not None:  # modes inline / worker: a host stage, not checkpointed
        if fault.mode == "worker":
            stage = fault.stage
            services.append(CallbackService(f"{stage.name}-worker",
                                            on_start=lambda: stage.start(emit_as(stage.name))))
        inline.append(fault.stage)
    operators = operators_from_config(cfg, extra=fault.operators)
    if operators:
        inline.append(operator_stage(cfg, operators, emit=emit_as("operators"), base_dir=base_dir, stats=stats,
                                     activity=activity))
    return inline, workers


def _quietly(name: str, close: Callable[[], object]) -> Callable[[], None]:
    def run() -> None:
        try:
            close()
        except Exception:  # noqa: BLE001 - the other parts must still close
            log.exception("closing %s of a box that failed to build failed", name)

    return run


class _OwnedServices(list[Service]):
    """The build's service list: each service appended is also stopped by ``stack`` if the build fails."""

    def __init__(self, stack: ExitStack) -> None:
        super().__init__()
        self._stack = stack

    def append(self, service: Service) -> None:
        super().append(service)
        self._stack.callback(_quietly(service.name, lambda: service.stop(time.monotonic() + 10.0)))


def build_box(cfg: RsuConfig, *, base_dir: Path, state_root: Path | None = None, clock: Clock = SYSTEM_CLOCK,
              extra_plugins: Sequence[tuple[str, object]] = (), config_path: Path | None = None) -> BuiltBox:
    """Assemble the box ``cfg`` describes; raise :class:`StartupError` listing every problem.

    A build that fails closes exactly what it had built (publisher, Kafka output, services, web server), in
    reverse order, before the error leaves: no bound port and no thread of the half-built box is left.

    :param extra_plugins: ``(name, plugin object)`` registered beside the entry points (tests, embedding);
        each must still be enabled in ``plugins.enabled``.
    :param config_path: the file ``cfg`` was read from: source changes made with ``persist`` are written there.
    """
    with ExitStack() as stack:  # closes what was built, in reverse order, only if the build raises
        built = _build(cfg, stack, base_dir=base_dir, state_root=state_root, clock=clock,
                       extra_plugins=extra_plugins, config_path=config_path)
        stack.pop_all()  # built: the box owns its parts now
        return built


def _build(cfg: RsuConfig, stack: ExitStack, *, base_dir: Path, state_root: Path | None, clock: Clock,
           extra_plugins: Sequence[tuple[str, object]], config_path: Path | None) -> BuiltBox:
    """:func:`build_box`'s steps; each part that holds a socket or a thread is registered on ``stack``."""
    from rsu.app.memory_service import MemoryService, tune_from_config
    from rsu.plugins.host import PluginHost
    from rsu.plugins.manager import PluginLoadError
    from rsu.plugins.registry import collect_sources
    from rsu.power.stage import power_stages
    from rsu.publish.zmq_publisher import ZmqPublisher

    memory = cfg.pipeline.memory
    allocator = MemoryService(memory.trim_interval_s, tune_from_config(memory), gc_interval_s=memory.gc_interval_s)
    problems: list[str] = []
    stats = RunStats()
    box_ref: list[Box] = []

    def emit_as(name: str) -> Callable[[Product], None]:
        origin = stage_origin(name)
        return lambda product: box_ref[0].ingest(product, origin)

    try:
        publisher = ZmqPublisher.from_config(cfg)
    except Exception as exc:  # zmq.ZMQError (address in use, bad endpoint) or a CURVE key problem
        raise StartupError([f"publish.zmq.endpoint {cfg.publish.zmq.endpoint}: {exc}"]) from None
    stack.callback(_quietly("publisher", publisher.close))
    if cfg.publish.uplink.enabled:  # thin / batch / hold products by priority as the link slows
        from rsu.publish.uplink import UplinkPublisher

        publisher = UplinkPublisher(publisher, cfg.publish.uplink,  # type: ignore[assignment]
                                    journal=cfg.pipeline.checkpoint.dir / "uplink-held.jsonl")
        stack.callback(_quietly("uplink", publisher.close))
    try:
        plugins = PluginHost.from_config(cfg, publisher=publisher, state_root=state_root, extra_plugins=extra_plugins,
                                         emit_sink=lambda product, origin: box_ref[0].ingest(product, origin))
    except PluginLoadError as exc:
        raise StartupError(list(exc.problems)) from None
    stack.callback(_quietly("plugins", plugins.stop))  # started last; stops only what started
    services: list[Service] = _OwnedServices(stack)
    source_table = collect_sources(plugins.loaded.pm)
    sources = build_sources(cfg, base_dir, source_table, problems)
    inline, workers = _stages(cfg, emit_as=emit_as, base_dir=base_dir, stats=stats, problems=problems,
                              services=services, pm=plugins.loaded.pm,
                              activity=lambda source: box_ref[0].lanes.last_put_ns(source))
    if problems:
        raise StartupError(problems)
    inline += power_stages(cfg, workers=workers, services=services)  # idle CPU cap (power.enabled)
    from rsu.publish.kafka_output import KafkaOutput

    kafka = KafkaOutput.from_config(cfg)
    if kafka is not None:
        stack.callback(_quietly("kafka", kafka.close))
    outputs = Outputs(publisher, plugins, stats, clock=clock, kafka=kafka)
    box = Box(sources=[s for _, s in sources], sink=outputs, inline_stages=inline, worker_stages=workers,
              stats=stats, queue_size=cfg.pipeline.queue.size, drop_policy=cfg.pipeline.queue.drop_policy,
              input_policies=input_policies(cfg, sources, source_table), clock=clock)
    box_ref.append(box)
    from rsu.app.dataflow import DataflowError, box_dataflow

    try:  # the registered StageSpecs: their computed edges must be the router's routes
        flow = box_dataflow(cfg, box, plugins.loaded.pm, source_table)
    except DataflowError as exc:
        raise StartupError(exc.problems) from None
    built = BuiltBox(box=box, config=cfg, endpoint=publisher.endpoint)
    from rsu.app.live_sources import LiveSources

    built.live_sources = LiveSources(
        box.source_set, cfg, base_dir=base_dir, kinds=source_table, config_path=config_path,
        has_detector=any(s.enabled and s.type == "camera" for s in cfg.sources), report=box.report,
        policy_for=lambda c, src, source: input_policies(c, [(src, source)], source_table).get(source.id))
    from rsu.app.box_health import heartbeat_service
    from rsu.web.service import attach

    try:
        built.services = attach(built)  # metrics, dashboard live state (output taps), web server bound
    except RsuError as exc:
        raise StartupError([str(exc)]) from None
    services.append(CallbackService("web", on_start=built.services.start, on_stop=built.services.close))
    services.append(heartbeat_service(box, publisher, plugins, cfg.publish.health_interval_s))
    services.append(allocator)
    for service in services:
        box.services.add(service)
    plugins.start()
    from rsu.app.dataflow_render import text

    log.debug("dataflow:\n  %s", "\n  ".join(text(flow)))
    return built
