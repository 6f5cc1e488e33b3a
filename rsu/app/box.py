"""The box at run time: sources in lanes -> the router -> the stage graph -> outputs (publisher, plugins).

Sources run as :class:`~rsu.app.source_service.SourceService` threads and put what they read into their own
sensor lane; stage workers and plugins put what they make into the derived or safety lane
(:mod:`rsu.core.lanes`). One router thread takes envelopes by lane priority and routes each forward through the
:class:`~rsu.app.graph.Graph`. The box owns every other service (heartbeat, web, samplers) through a
:class:`~rsu.core.lifecycle.ServiceStack` and stops everything in reverse order within one deadline.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Protocol

from rsu_sdk import HealthEvent, Product

from rsu.app.graph import Graph, Node
from rsu.app.source_service import Source, SourceService
from rsu.app.source_set import SourceSet
from rsu.app.stages import LatestValueWorker
from rsu.core.clock import SYSTEM_CLOCK, Clock
from rsu.core.envelope import Envelope, Lane, lane_of, source_origin, stage_origin
from rsu.core.lanes import InputPolicy, Lanes
from rsu.core.lifecycle import Service, ServiceStack
from rsu.core.stage import Stage
from rsu.core.stats import RunStats

__all__ = ["Box", "Sink", "Source"]

log = logging.getLogger(__name__)


class Sink(Protocol):
    """Where every product ends: the publisher and the plugins. ``origin`` names who made the product."""

    def deliver(self, product: Product, origin: str) -> None: ...

    def stop_plugins(self) -> None: ...

    def close(self) -> None: ...

    def stats(self) -> dict[str, Any]: ...


class Box:
    """Runs sources, routes what they produce through the stages to the sink, and owns every service.

    :param inline_stages: stages run on the router thread, in order (e.g. the operator runner).
    :param worker_stages: slow stages run on their own thread with a latest-value slot (e.g. the detector);
        they come first in the graph.
    :param input_policies: per source id: maximum wait in the queue, capacity, what a full queue does and when
        an arriving input counts as late; sources not named get ``InputPolicy(None, queue_size, drop_policy)``
        (never stale, never counted late).
    :param services: other services the box owns (web server, samplers, heartbeat), started before the
        sources and stopped after the router.
    """

    def __init__(
        self,
        *,
        sources: Sequence[Source],
        sink: Sink,
        inline_stages: Sequence[Stage] = (),
        worker_stages: Sequence[Stage] = (),
        stats: RunStats | None = None,
        queue_size: int = 10_000,
        drop_policy: str = "drop_newest",
        input_policies: Mapping[str, InputPolicy] | None = None,
        services: Sequence[Service] = (),
        clock: Clock = SYSTEM_CLOCK,
        restart_backoff_s: float = 1.0,
    ) -> None:
        if drop_policy not in ("drop_newest", "drop_oldest", "block"):
            raise ValueError(f"drop_policy: expected 'drop_newest', 'drop_oldest' or 'block', got {drop_policy!r}")
        self.stats = stats or RunStats()
        self.clock = clock
        self.sink = sink
        self.inline_stages = list(inline_stages)
        self.stop_event = threading.Event()
        self.lanes = Lanes(default_policy=InputPolicy(None, queue_size, drop_policy),  # type: ignore[arg-type]
                           clock=clock, on_drop=self._dropped, on_stale=self._stale, on_late=self._late)
        for key, policy in (input_policies or {}).items():
            self.lanes.set_policy(key, policy)
        self.workers = [LatestValueWorker(s, self._stage_emitter(s.name), self.stats) for s in worker_stages]
        nodes = [*(Node(w.stage, w.offer) for w in self.workers), *(Node(s) for s in self.inline_stages)]
        self.graph = Graph(nodes, self._deliver, on_error=self._stage_failed,
                           on_count=lambda name, key: self.stats.count(name, key))
        self.source_set = SourceSet(  # the running sources; added, removed, restarted live (rsu/app/live_sources.py)
            lambda src: SourceService(src, emit=self._source_emitter(src.id), report=self.report, stats=self.stats,
                                      backoff_s=restart_backoff_s), self.lanes)
        for src in sources:
            self.source_set.add(src)
        self.services = ServiceStack()
        for service in services:
            self.services.add(service)
        self.inputs_ended = False
        self._route_lock = threading.Lock()
        self._router_done = threading.Event()
        self._router = threading.Thread(target=self._route_loop, name="router", daemon=True)
        self._started = False

    @property
    def sources(self) -> list[Source]:
        """The sources running now (a snapshot; sources come and go through :attr:`source_set`)."""
        return self.source_set.sources

    @property
    def source_services(self) -> tuple[SourceService, ...]:
        return self.source_set.services

    # -- input ---------------------------------------------------------------------------------
    def _source_emitter(self, source_id: str) -> Callable[[Product], None]:
        origin = source_origin(source_id)

        def emit(product: Product) -> None:
            self._put(product, origin, source_id)

        return emit

    def _stage_emitter(self, name: str) -> Callable[[Product], None]:
        origin = stage_origin(name)

        def emit(product: Product) -> None:
            self._put(product, origin, origin)

        return emit

    def _put(self, product: Product, origin: str, key: str) -> bool:
        env = Envelope(product, origin, lane_of(product, origin), self.clock.monotonic_ns())
        return self.lanes.put(env, key)

    def ingest(self, product: Product, origin: str | None = None) -> bool:
        """Accept a product from ``origin`` (``source:<id>``, ``stage:<name>``, ``plugin:<name>``; default: a
        source named after ``product.source``). Safety products are never dropped; others may be (counted)."""
        if origin is None:
            origin = source_origin(product.source)
            return self._put(product, origin, product.source)
        return self._put(product, origin, origin if not origin.startswith("source:") else origin[7:])

    def report(self, event: HealthEvent) -> None:
        """A health event of the box itself (a source crashed, a plugin was disabled): the safety lane."""
        self._put(event, "box", "box")

    def pending(self) -> list[Envelope]:
        """What waits in the lanes, safety first (diagnostics, tests)."""
        return self.lanes.pending()

    def _dropped(self, key: str, product: object) -> None:
        self.stats.drop(f"ingest.{type(product).__name__}")

    def _stale(self, key: str, product: object) -> None:
        self.stats.stale_input(f"{key}.{type(product).__name__}")

    def _late(self, key: str, product: object) -> None:
        self.stats.late_input(f"{key}.{type(product).__name__}")

    def _deliver(self, product: Product, origin: str) -> None:
        self.stats.count("routed", type(product).__name__)  # every product that reached the outputs, by type
        self.sink.deliver(product, origin)

    def _stage_failed(self, name: str, product: Product) -> None:
        log.exception("stage %s failed on a %s from %s", name, type(product).__name__, product.source)
        self.stats.count(name, "errors")

    # -- lifecycle -----------------------------------------------------------------------------
    def start(self) -> None:
        """Open the stages, start the workers, the router, the services, then the sources."""
        if self._started:
            return
        self._started = True
        for stage in self.inline_stages:  # e.g. the operator runner: restore checkpoints, open operators
            stage.open()
        for worker in self.workers:
            worker.stage.open()
            worker.start()
        self._router.start()
        self.services.start()
        self.source_set.start()

    def router_alive(self) -> bool:
        """True while the routing thread runs (from :meth:`start` until :meth:`stop` has drained)."""
        return self._router.is_alive()

    def queue_depths(self) -> dict[str, int]:
        """Products waiting: all lanes together (``ingest``), each lane, and each worker stage's slots."""
        lanes = self.lanes.depths()
        return {"ingest": sum(lanes.values()), **{f"lane.{k}": v for k, v in lanes.items()},
                **{f"stage.{w.stage.name}": w.pending() for w in self.workers}}

    def sources_finished(self) -> bool:
        """True when every source thread has ended (e.g. files played to the end)."""
        return self.source_set.finished()

    def drain(self, timeout_s: float = 30.0) -> bool:
        """Wait until everything queued so far has been routed (tests, orderly shutdown)."""
        return self.lanes.join(timeout_s)

    def run(self, seconds: float | None = None, should_stop: Callable[[], bool] = lambda: False) -> None:
        """Run until ``seconds`` pass, ``should_stop()`` is true, or every source has finished."""
        self.start()
        deadline = None if seconds is None else time.monotonic() + seconds
        while not should_stop() and not self.sources_finished():
            if deadline is not None and time.monotonic() >= deadline:
                break
            self.stop_event.wait(0.05)
        self.inputs_ended = self.sources_finished()
        self.stop()

    def stop(self, timeout: float = 10.0) -> None:
        """Stop sources, drain the lanes and the stages (end-of-input timers fire when the inputs ended),
        stop the plugins (what they emit is still routed), the router, the services, then close the sink."""
        deadline = time.monotonic() + timeout
        self.stop_event.set()
        self.source_set.stop(deadline)
        self.drain(max(1.0, deadline - time.monotonic()))
        for worker in self.workers:
            worker.close(max(0.1, deadline - time.monotonic()))
        self.drain(max(1.0, deadline - time.monotonic()))
        first_inline = len(self.workers)
        for i, stage in enumerate(self.inline_stages):  # operator runners: end-of-input timers, last checkpoint
            with self._route_lock:
                try:
                    self.graph.finish_stage(first_inline + i, self.inputs_ended)
                except Exception:  # noqa: BLE001 - the other stages must still finish
                    log.exception("stage %s failed to finish", stage.name)
                    self.stats.count(stage.name, "errors")
        self.drain(max(1.0, deadline - time.monotonic()))
        self.sink.stop_plugins()  # plugins drain their queues; what they emit is still routed
        self.drain(max(1.0, deadline - time.monotonic()))
        self._router_done.set()
        self.lanes.close()
        if self._router.is_alive():
            self._router.join(max(0.1, deadline - time.monotonic()))
        self.services.stop(max(deadline, time.monotonic() + 1.0))
        self.sink.close()

    # -- routing -------------------------------------------------------------------------------
    def _route_loop(self) -> None:
        while True:
            env = self.lanes.take(0.05)
            if env is None:
                if self._router_done.is_set():
                    return
                continue
            try:
                with self._route_lock:
                    self.stats.count("ingest", type(env.product).__name__)
                    if env.lane is Lane.SAFETY:
                        self.stats.count("safety", "routed")
                    self.graph.route(env.product, env.origin, self.graph.entry(env))
            except Exception:  # noqa: BLE001 - the router must never die
                log.exception("routing a %s failed", type(env.product).__name__)
                self.stats.count("router", "errors")
            finally:
                self.lanes.task_done()

    def summary(self, **extra: Any) -> dict[str, Any]:
        """The run summary; a component whose ``stats()`` fails is reported with its error, not raised."""
        stages = [*self.inline_stages, *(w.stage for w in self.workers)]
        return self.stats.summary(
            sources={svc.source.id: {**_safe_stats(svc.source), "service": svc.stats()}
                     for svc in self.source_services},
            stage_stats={s.name: _safe_stats(s) for s in stages},
            lanes=self.lanes.stats(),
            services=self.services.stats(),
            **self.sink.stats(),
            **extra,
        )


def _safe_stats(component: Any) -> dict[str, Any]:
    try:
        return dict(component.stats())
    except Exception as exc:  # noqa: BLE001 - a summary must still be written at shutdown
        log.exception("stats() of %s failed", getattr(component, "name", getattr(component, "id", component)))
        return {"error": f"{type(exc).__name__}: {exc}"}
