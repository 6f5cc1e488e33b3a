"""A worker that runs a slow stage (the detector) off the router thread, newest input per source first."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from rsu_sdk import Product

from rsu.core.stage import Stage
from rsu.core.stats import RunStats

log = logging.getLogger(__name__)


class LatestValueWorker:
    """Runs a stage on its own thread, keeping only the newest pending input per source.

    A slow model therefore never builds latency: inputs that arrive while it is busy replace the pending
    one and are counted as dropped.
    """

    def __init__(self, stage: Stage, emit: Callable[[Product], None], stats: RunStats) -> None:
        self.stage = stage
        self._emit = emit
        self._stats = stats
        self._pending: dict[str, Product] = {}
        self._cond = threading.Condition()
        self._closing = False
        self._thread = threading.Thread(target=self._loop, name=f"stage-{stage.name}", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def offer(self, product: Product) -> None:
        """Queue ``product`` for the stage, replacing (and counting) an older one from the same source."""
        key = product.source
        with self._cond:
            if key in self._pending:
                self._stats.drop(f"stage.{self.stage.name}.superseded")
            self._pending[key] = product
            self._cond.notify()

    def pending(self) -> int:
        """Inputs waiting for the stage (at most one per source)."""
        with self._cond:
            return len(self._pending)

    def _loop(self) -> None:
        while True:
            with self._cond:
                while not self._pending and not self._closing:
                    self._cond.wait()
                if not self._pending:
                    return
                key = next(iter(self._pending))
                product = self._pending.pop(key)
            try:
                results = self.stage.process(product)
            except Exception:  # a bad input must not kill the stage
                log.exception("stage %s failed on a %s from %s", self.stage.name, type(product).__name__, key)
                self._stats.count(self.stage.name, "errors")
                continue
            self._stats.count(self.stage.name, "in")
            for result in results:
                self._stats.count(self.stage.name, "out")
                self._emit(result)

    def close(self, timeout: float = 10.0) -> None:
        """Finish what is pending, stop the thread, then the stage's ``finish`` (what it still held, e.g. a
        batch being formed, is emitted)."""
        with self._cond:
            self._closing = True
            self._cond.notify()
        if self._thread.is_alive():
            self._thread.join(timeout)
        try:
            results = self.stage.finish(False)
        except Exception:  # noqa: BLE001 - the box must still stop
            log.exception("stage %s failed to finish", self.stage.name)
            self._stats.count(self.stage.name, "errors")
            return
        for result in results:
            self._stats.count(self.stage.name, "out")
            self._emit(result)
