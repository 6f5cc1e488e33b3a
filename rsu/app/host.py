"""The box at run time: source threads -> ingest queue -> stages -> publisher and plugins."""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any, Protocol

from rsu_sdk import Product

from rsu.app.stages import LatestValueWorker, Stage
from rsu.app.stats import RunStats

log = logging.getLogger(__name__)


class Source(Protocol):
    """An input owned by the host: ``run`` blocks until ``stop`` is set, reconnecting on its own."""

    id: str

    def run(self, emit: Callable[[Product], None], stop: threading.Event) -> None: ...

    def stats(self) -> dict[str, Any]: ...


class Sink(Protocol):
    """Where every product ends: the publisher and the plugins."""

    def deliver(self, product: Product) -> None: ...

    def stop_plugins(self) -> None: ...

    def close(self) -> None: ...

    def stats(self) -> dict[str, Any]: ...


class Box:
    """Runs sources on threads and routes what they produce through the stages to the sink.

    :param inline_stages: cheap stages run on the routing thread, in order (e.g. fusion).
    :param worker_stages: slow stages run on their own thread with a latest-value slot (e.g. the detector).
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
    ) -> None:
        if drop_policy not in ("drop_newest", "drop_oldest"):
            raise ValueError(f"drop_policy: expected 'drop_newest' or 'drop_oldest', got {drop_policy!r}")
        self.stats = stats or RunStats()
        self.sources = list(sources)
        self.sink = sink
        self.inline_stages = list(inline_stages)
        self.workers = [LatestValueWorker(s, self.ingest, self.stats) for s in worker_stages]
        self._queue: queue.Queue[Product] = queue.Queue(maxsize=queue_size)
        self.drop_policy = drop_policy
        self.inputs_ended = False
        self.stop_event = threading.Event()
        self._source_threads: list[threading.Thread] = []
        self._router = threading.Thread(target=self._route_loop, name="router", daemon=True)
        self._router_done = threading.Event()

    # -- input ---------------------------------------------------------------------------------

    def ingest(self, product: Product) -> None:
        """Accept a product from a source, stage or plugin; never blocks (a full queue drops, counted).

        ``drop_newest`` refuses ``product``; ``drop_oldest`` evicts the oldest queued product instead.
        """
        try:
            self._queue.put_nowait(product)
            return
        except queue.Full:
            if self.drop_policy == "drop_newest":
                self.stats.drop(f"ingest.{type(product).__name__}")
                return
        try:
            old = self._queue.get_nowait()
        except queue.Empty:
            old = None
        else:
            self._queue.task_done()
            self.stats.drop(f"ingest.{type(old).__name__}")
        try:
            self._queue.put_nowait(product)
        except queue.Full:
            self.stats.drop(f"ingest.{type(product).__name__}")

    # -- lifecycle -----------------------------------------------------------------------------

    def start(self) -> None:
        for stage in self.inline_stages:  # e.g. the operator runner: restore checkpoints, open operators
            opener = getattr(stage, "open", None)
            if opener is not None:
                opener()
        for worker in self.workers:
            worker.start()
        self._router.start()
        for src in self.sources:
            t = threading.Thread(target=self._run_source, args=(src,), name=f"source-{src.id}", daemon=True)
            t.start()
            self._source_threads.append(t)

    def _run_source(self, src: Source) -> None:
        try:
            src.run(self.ingest, self.stop_event)
        except Exception:  # sources handle their own errors; this is the last line of defence
            log.exception("source %s stopped with an error", src.id)
            self.stats.count(f"source.{src.id}", "crashed")

    def router_alive(self) -> bool:
        """True while the routing thread runs (from :meth:`start` until :meth:`stop` has drained)."""
        return self._router.is_alive()

    def queue_depths(self) -> dict[str, int]:
        """Products waiting: in the ingest queue and in each worker stage's latest-value slots."""
        return {"ingest": self._queue.qsize(), **{f"stage.{w.stage.name}": w.pending() for w in self.workers}}

    def sources_finished(self) -> bool:
        """True when every source thread has ended (e.g. files played to the end)."""
        return all(not t.is_alive() for t in self._source_threads)

    def run(self, seconds: float | None = None, should_stop: Callable[[], bool] = lambda: False) -> None:
        """Run until ``seconds`` pass, ``should_stop()`` is true, or every source has finished."""
        self.start()
        deadline = None if seconds is None else time.monotonic() + seconds
        while not should_stop() and not self.sources_finished():
            if deadline is not None and time.monotonic() >= deadline:
                break
            time.sleep(0.05)
        self.inputs_ended = self.sources_finished()
        self.stop()

    def stop(self, timeout: float = 10.0) -> None:
        """Stop sources, drain the queue and the stages, then close the sink (plugins drain there)."""
        self.stop_event.set()
        for t in self._source_threads:
            t.join(timeout)
        self._drain()
        for worker in self.workers:
            worker.close(timeout)
        self._drain()
        for stage in self.inline_stages:  # operator runners: end-of-input timers, last checkpoint
            finish = getattr(stage, "finish", None)
            if finish is not None:
                for product in finish(end_of_input=self.inputs_ended):
                    self._queue.put(product)
        self._drain()
        self.sink.stop_plugins()  # plugins drain their queues; what they emit is still routed
        self._drain()
        self._router_done.set()
        self._router.join(timeout)
        self.sink.close()

    def _drain(self) -> None:
        """Wait until the router has emptied the queue."""
        self._queue.join()

    # -- routing -------------------------------------------------------------------------------

    def _route_loop(self) -> None:
        while not (self._router_done.is_set() and self._queue.empty()):
            try:
                product = self._queue.get(timeout=0.05)
            except queue.Empty:
                continue
            try:
                self._route(product)
            except Exception:
                log.exception("routing a %s failed", type(product).__name__)
                self.stats.count("router", "errors")
            finally:
                self._queue.task_done()

    def _route(self, product: Product) -> None:
        kind = type(product).__name__
        self.stats.count("ingest", kind)
        for worker in self.workers:
            if isinstance(product, worker.stage.handles):
                worker.offer(product)
        for stage in self.inline_stages:
            if isinstance(product, stage.handles):
                try:
                    results = stage.process(product)
                except Exception:
                    log.exception("stage %s failed on a %s", stage.name, kind)
                    self.stats.count(stage.name, "errors")
                    continue
                self.stats.count(stage.name, "in")
                for result in results:
                    self.stats.count(stage.name, "out")
                    self._route(result)
        self.sink.deliver(product)

    def summary(self, **extra: Any) -> dict[str, Any]:
        """The run summary; a component whose ``stats()`` fails is reported with its error, not raised."""
        stages = [*self.inline_stages, *(w.stage for w in self.workers)]
        return self.stats.summary(
            sources={s.id: _safe_stats(s) for s in self.sources},
            stage_stats={s.name: _safe_stats(s) for s in stages},
            **self.sink.stats(),
            **extra,
        )


def _safe_stats(component: Any) -> dict[str, Any]:
    try:
        return component.stats()
    except Exception as exc:  # a summary must still be written at shutdown
        log.exception("stats() of %s failed", getattr(component, "name", getattr(component, "id", component)))
        return {"error": f"{type(exc).__name__}: {exc}"}

