"""``FaultPredictionStage``: SensorReading -> keyed window -> dynamic batch -> fault model -> Prediction.

Two modes. ``inline`` (no ``emit``): :meth:`process` predicts at once, batch 1, and returns the
:class:`~rsu_sdk.Prediction`. ``worker`` (:meth:`start` with an ``emit`` callback): :meth:`process` only
updates the window (cheap, in event order on the caller's thread) and queues it; a worker thread takes
dynamic batches from the queue and emits the predictions, so a backlog turns into bigger batches.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import numpy as np
from rsu_sdk import Prediction, Product, SensorReading

from rsu.core.stats import summary_ms
from rsu.inference.fault_predictor import FaultPredictor
from rsu.pipeline.dynamic_batch import BatchPolicy, BatchQueue
from rsu.pipeline.windows import DeviceWindows

__all__ = ["FaultPredictionStage"]

log = logging.getLogger(__name__)

Item = tuple[str, int, np.ndarray]  # device, event time, window
Queued = tuple[str, int, np.ndarray, int]  # ... plus perf_counter_ns when queued


class FaultPredictionStage:
    """Implements the host's ``Stage`` protocol (``name``, ``handles``, ``process``, ``stats``)."""

    handles = (SensorReading,)

    def __init__(self, predictor: FaultPredictor, *, name: str = "fault_prediction", stride: int = 1,
                 devices: Iterable[str] = (), channel_map: Mapping[str, str] | None = None,
                 policy: BatchPolicy | None = None, capacity: int = 10_000, block_when_full: bool = False) -> None:
        self.name = name
        self.predictor = predictor
        self.windows = DeviceWindows(predictor.channels, window=predictor.window, stride=stride,
                                     tau_s=predictor.baseline_tau_s, channel_map=channel_map)
        self.devices = frozenset(devices) or None
        self.queue: BatchQueue[Queued] = BatchQueue(policy, capacity=capacity, block_when_full=block_when_full)
        self._emit: Callable[[Product], None] | None = None
        self._thread: threading.Thread | None = None
        self._latency_ms: list[float] = []  # window ready -> prediction made, per window (last 10,000)
        self.skipped_devices = 0
        self.errors = 0

    # -- lifecycle (worker mode) -------------------------------------------------------------------

    def start(self, emit: Callable[[Product], None]) -> None:
        """Switch to worker mode: predictions go to ``emit`` from a thread of this stage."""
        self._emit = emit
        self._thread = threading.Thread(target=self._loop, name=f"stage-{self.name}", daemon=True)
        self._thread.start()

    def close(self, timeout: float = 10.0) -> None:
        """Predict what is queued, then stop the worker thread."""
        self.queue.close()
        if self._thread is not None:
            self._thread.join(timeout)

    def open(self) -> None:
        """Nothing to restore: this stage keeps no checkpointed state."""

    def finish(self, end_of_input: bool = False) -> list[Product]:
        """The Box's stop hook: in worker mode, emit what is queued now (while the sink still takes it)."""
        self.close()
        return []

    # -- per product ---------------------------------------------------------------------------------

    def process(self, product: Product) -> list[Product]:
        if not isinstance(product, SensorReading):
            return []
        if self.devices is not None and product.device not in self.devices:
            self.skipped_devices += 1
            return []
        window = self.windows.push(product)
        if window is None:
            return []
        item = (product.device, product.t_event_ns, window)
        if self._emit is not None:
            self.queue.put((*item, time.perf_counter_ns()))
            return []
        t0 = time.perf_counter_ns()
        out = self.predictor.predictions([item], self.name)
        self._note_latency([t0], time.perf_counter_ns())
        return list(out)

    def _loop(self) -> None:
        while True:
            batch = self.queue.take(timeout=0.1)
            if not batch:
                if self.queue.closed and not len(self.queue):
                    return
                continue
            try:
                preds = self.predictor.predictions([b[:3] for b in batch], self.name)
            except Exception:  # a bad batch must not kill the stage
                log.exception("stage %s: inference failed on a batch of %d", self.name, len(batch))
                self.errors += 1
                continue
            self._note_latency([b[3] for b in batch], time.perf_counter_ns())
            assert self._emit is not None
            for p in preds:
                self._emit(p)

    def _note_latency(self, starts: list[int], end: int) -> None:
        self._latency_ms.extend((end - s) / 1e6 for s in starts)
        if len(self._latency_ms) > 20_000:
            del self._latency_ms[:10_000]

    def predict_now(self, items: list[Item]) -> list[Prediction]:
        """Predict ``items`` at once (batch = len(items)); used by tools that hold whole recordings."""
        return self.predictor.predictions(items, self.name)

    def stats(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "model": self.predictor.name,
            "mode": "worker" if self._emit is not None else "inline",
            **self.windows.counts,
            "devices": len(self.windows.states),
            "skipped_devices": self.skipped_devices,
            "queued": len(self.queue),
            "dropped": self.queue.dropped,
            "batches": {str(k): v for k, v in sorted(self.queue.batches.items())},
            "model_runs": self.predictor.runs,
            "errors": self.errors,
        }
        if self._latency_ms:
            out["latency"] = summary_ms(self._latency_ms)
        return out
