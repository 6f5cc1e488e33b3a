"""A Prometheus collector that reads the box's own counters at scrape time (nothing is updated twice).

Sources of the numbers: :class:`~rsu.core.stats.RunStats` (stages, drops, late events, event-to-publish
latency), :class:`~rsu.metrics.counters.ProductCounters` (frames, detections, tracks, alarms, actuations),
the box (queue depths, sources), ``PluginHost.stats()``, the publisher's stats, the
:class:`~rsu.metrics.timing.TimedStage` histograms (inference latency) and psutil (CPU, memory).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from typing import Any

from prometheus_client import CollectorRegistry
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector

from rsu import __version__
from rsu.metrics.counters import ProductCounters
from rsu.metrics.health import readiness, source_opened
from rsu.metrics.timing import timed_stages

__all__ = ["BoxCollector", "box_registry"]

log = logging.getLogger(__name__)


def _counter(name: str, doc: str, labels: list[str], values: dict[Any, float]) -> CounterMetricFamily:
    fam = CounterMetricFamily(name, doc, labels=labels)
    for key, value in sorted(values.items(), key=lambda kv: str(kv[0])):
        fam.add_metric(list(key) if isinstance(key, tuple) else [str(key)], float(value))
    return fam


def _gauge(name: str, doc: str, labels: list[str], values: dict[Any, float]) -> GaugeMetricFamily:
    fam = GaugeMetricFamily(name, doc, labels=labels)
    for key, value in sorted(values.items(), key=lambda kv: str(kv[0])):
        fam.add_metric(list(key) if isinstance(key, tuple) else [str(key)], float(value))
    return fam


class BoxCollector(Collector):
    """Yields the ``rsu_*`` metric families of one box (see the module doc)."""

    def __init__(self, box: Any, *, site: str, runner: str, counters: ProductCounters, process: bool = True,
                 extra_stats: Callable[[], dict[str, Any]] | None = None) -> None:
        self.box = box
        self.site = site
        self.runner = runner
        self.counters = counters
        self.extra_stats = extra_stats
        self.started = time.time()
        self._proc: Any = None
        if process:
            import psutil

            self._proc = psutil.Process()
            self._proc.cpu_percent(None)  # the first call only starts the measurement
            psutil.cpu_percent(None)

    def collect(self) -> Iterator[Metric]:
        try:
            yield from self._collect()
        except Exception:  # noqa: BLE001 - a scrape must not raise into the HTTP thread; log and stop here
            log.exception("collecting metrics failed")

    def _collect(self) -> Iterator[Metric]:
        box = self.box
        info = GaugeMetricFamily("rsu_info", "The box: site, rsu version, runner.",
                                 labels=["site", "version", "runner"])
        info.add_metric([self.site, __version__, self.runner], 1.0)
        yield info
        yield GaugeMetricFamily("rsu_uptime_seconds", "Seconds since the box was built.",
                                value=time.time() - self.started)
        yield GaugeMetricFamily("rsu_live", "1 while the router thread runs.", value=float(box.router_alive()))
        yield GaugeMetricFamily("rsu_ready", "1 when /readyz would answer 200.", value=float(readiness(box).ok))
        yield from self._products()
        yield from self._run_stats(box.stats.summary())
        yield _gauge("rsu_queue_depth", "Products waiting, per queue (ingest, worker stages, plugins).", ["queue"],
                     {**box.queue_depths(), **{f"plugin.{n}": p.get("queue_depth", 0)
                                                for n, p in self._plugins().items()}})
        yield from self._sources()
        yield from self._plugin_metrics()
        yield from self._publisher()
        yield from self._histograms()
        if self.extra_stats is not None:
            extra = self.extra_stats()
            if "web_frames_encoded" in extra:
                yield CounterMetricFamily("rsu_web_frames_encoded", "Dashboard JPEG encodes (only while watched).",
                                          value=extra["web_frames_encoded"])
        if self._proc is not None:
            yield from self._process()

    def _products(self) -> Iterator[Metric]:
        c = self.counters.snapshot()
        yield _counter("rsu_frames", "Camera frames delivered, per camera.", ["source"], c["frames"])
        yield _counter("rsu_detections", "Objects detected in camera frames, per camera.", ["source"], c["detections"])
        yield _counter("rsu_radar_objects", "Radar objects decoded, per radar.", ["source"], c["radar_objects"])
        yield _counter("rsu_object_lists", "Fused object lists (fusion cycles), per fusion output.", ["source"],
                       c["object_lists"])
        yield _gauge("rsu_tracks", "Tracked objects in the latest object list.", ["source"], c["tracks"])
        yield _counter("rsu_tracks_started", "Track ids seen for the first time.", ["source"], c["tracks_started"])
        yield _counter("rsu_sensor_readings", "Plant / air-quality readings, per source.", ["source"], c["readings"])
        yield _counter("rsu_predictions", "Model predictions, per model.", ["model"], c["predictions"])
        yield _counter("rsu_alarms", "Alarm events by kind and transition.", ["kind", "transition"], c["alarms"])
        yield _counter("rsu_actuations", "Actuation commands and outcomes.", ["actuator", "action", "result"],
                       c["actuations"])

    def _run_stats(self, s: dict[str, Any]) -> Iterator[Metric]:
        ingest = s["stages"].get("ingest", {})
        yield _counter("rsu_products", "Products routed, by type.", ["kind"], ingest)
        yield _counter("rsu_stage_events", "Stage inputs, outputs and errors.", ["stage", "event"],
                       {(st, ev): n for st, evs in s["stages"].items() if st != "ingest" for ev, n in evs.items()})
        yield _counter("rsu_drops", "Products dropped, by where (queues, superseded frames, publisher, plugins).",
                       ["where"], {**s["drops"],
                                   **{f"plugin.{n}": p.get("drops", 0) for n, p in self._plugins().items()}})
        yield _counter("rsu_late_events", "Events later than the watermark allowed.", ["where"], s["late_events"])
        fam = GaugeMetricFamily("rsu_event_to_publish_latency_seconds",
                                "Event time to publish time, p50 / p99 over a reservoir of the run.",
                                labels=["product", "quantile"])
        for product, p in s["latency_event_to_publish"].items():
            for q, key in (("0.5", "p50_ms"), ("0.99", "p99_ms")):
                if p.get(key) is not None:
                    fam.add_metric([product, q], p[key] / 1e3)
        yield fam

    def _sources(self) -> Iterator[Metric]:
        opened: dict[str, float] = {}
        numbers: dict[tuple[str, str], float] = {}
        for src in self.box.sources:
            try:
                st = dict(src.stats())
            except Exception:  # noqa: BLE001
                st = {"error": "stats failed"}
            opened[src.id] = float(source_opened(st))
            for key, value in st.items():
                if isinstance(value, (int, float)) and not isinstance(value, bool):
                    numbers[(src.id, key)] = value
        yield _gauge("rsu_source_opened", "1 when the source has opened its input.", ["source"], opened)
        yield _gauge("rsu_source_stat", "Numeric counters a source reports (frames_read, bad_frames, ...).",
                     ["source", "key"], numbers)

    def _plugins(self) -> dict[str, dict[str, Any]]:
        plugins = getattr(self.box.sink, "plugins", None)
        return plugins.stats() if plugins is not None else {}

    def _plugin_metrics(self) -> Iterator[Metric]:
        p = self._plugins()
        yield _counter("rsu_plugin_calls", "Hook calls per plugin.", ["plugin"], {n: v["calls"] for n, v in p.items()})
        yield _counter("rsu_plugin_errors", "Hook calls that raised, per plugin.", ["plugin"],
                       {n: v["errors"] for n, v in p.items()})
        yield _counter("rsu_plugin_drops", "Products a plugin's full queue dropped.", ["plugin"],
                       {n: v["drops"] for n, v in p.items()})
        yield _gauge("rsu_plugin_up", "1 while the plugin runs (0: idle, stopped or disabled).", ["plugin"],
                     {n: float(v["status"] == "running") for n, v in p.items()})

    def _publisher(self) -> Iterator[Metric]:
        publisher = getattr(self.box.sink, "publisher", None)
        if publisher is None:
            return
        st = publisher.stats()
        yield _counter("rsu_published_messages", "Messages sent on the ZeroMQ PUB socket, per topic.", ["topic"],
                       {t: v["sent"] for t, v in st["topics"].items()})
        yield _counter("rsu_publish_dropped", "Messages dropped at the PUB socket (slow subscriber), per topic.",
                       ["topic"], {t: v["dropped"] for t, v in st["topics"].items()})
        yield CounterMetricFamily("rsu_publish_invalid", "Refused publish calls.", value=st["invalid"])
        yield GaugeMetricFamily("rsu_publish_subscriptions", "Subscriptions seen on the PUB socket.",
                                value=st["subscriptions"])

    def _histograms(self) -> Iterator[Metric]:
        fam = HistogramMetricFamily("rsu_inference_latency_seconds", "Wall time of one stage call "
                                    "(the detector: pre-processing, inference, decoding).", labels=["stage"])
        stages = [*(w.stage for w in self.box.workers), *self.box.inline_stages]
        for timed in timed_stages(stages):
            buckets, total, _ = timed.histogram.snapshot()
            fam.add_metric([timed.name], buckets, total)
        yield fam

    def _process(self) -> Iterator[Metric]:
        import psutil

        proc = self._proc
        with proc.oneshot():
            cpu = proc.cpu_times()
            mem = proc.memory_info()
            yield CounterMetricFamily("rsu_process_cpu_seconds", "CPU time of the rsu process (user + system).",
                                      value=cpu.user + cpu.system)
            yield GaugeMetricFamily("rsu_process_cpu_percent", "CPU use of the process since the last scrape "
                                    "(100 = one core).", value=proc.cpu_percent(None))
            yield GaugeMetricFamily("rsu_process_resident_memory_bytes", "Resident memory of the process.",
                                    value=mem.rss)
            yield GaugeMetricFamily("rsu_process_threads", "Threads of the process.", value=proc.num_threads())
        vm = psutil.virtual_memory()
        yield GaugeMetricFamily("rsu_host_cpu_percent", "CPU use of the host since the last scrape, all cores.",
                                value=psutil.cpu_percent(None))
        yield GaugeMetricFamily("rsu_host_memory_available_bytes", "Memory available on the host.", value=vm.available)
        yield GaugeMetricFamily("rsu_host_memory_total_bytes", "Memory of the host.", value=vm.total)


def box_registry(collector: BoxCollector) -> CollectorRegistry:
    """A registry of its own for one box (never the global default one)."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(collector)
    return registry
