"""Batched multi-camera inference: the detector stage behind a stream muxer (:mod:`rsu.inference.muxer`).

:class:`MuxedDetectorStage` takes the frames the detector worker hands it (after the adaptive rate has admitted
them), keeps the newest per camera, and on its own thread runs one model call per batch of cameras, closed when
every active camera has a frame (or ``max_batch`` is reached) or ``batch_window_ms`` after the batch's first
frame arrived. Each frame then goes through the per-frame rest of the detector stage (the tiered offload, if
configured) with its result from the batch, and what comes out is emitted as the detector's products.
:func:`batch_plan` decides whether a box batches at all (several cameras, a window, a model with a dynamic batch;
by default only on an accelerator).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any, Protocol

from rsu_sdk import Frame, Product

from rsu.core.clock import SYSTEM_CLOCK, Clock
from rsu.core.stage import Stage
from rsu.inference.muxer import StreamMuxer
from rsu.metrics.timing import LatencyHistogram, TimedStage

__all__ = ["BatchDetector", "CPU_BACKENDS", "DEFAULT_WINDOW_MS", "MuxedDetectorStage", "batch_plan"]

log = logging.getLogger(__name__)

_POLL_S = 0.05
"""Longest wait between looks at the clock while a batch is open (so an injected clock's moves are seen)."""


class BatchDetector(Protocol):
    """The plain detector stage as the muxer uses it (:class:`rsu.app.perception.DetectorStage`)."""

    def detect_batch(self, frames: Sequence[Frame]) -> None:
        """Run the model once on ``frames``; each frame's next ``process`` returns its result."""


DEFAULT_WINDOW_MS = 10.0
"""``models.detector.batch_window_ms`` when unset and the model runs on an accelerator."""

CPU_BACKENDS = frozenset({"CPUExecutionProvider", "LiteRT"})
"""Where a batch measured no faster per frame than single calls (docs/pipeline.md): batching is off unless set."""


def batch_plan(cfg: Any, fixed_batch: int | None, cameras: int, model: str,
               provider: str = "CPUExecutionProvider") -> tuple[float, int] | None:
    """``(window_ms, max_batch)`` for detector config ``cfg`` (``models.detector``) whose model runs on
    ``provider``, or None when the box runs one inference call per frame: fewer than two cameras, window 0,
    ``max_batch`` 1, neither key set on a CPU backend, or a model whose batch is fixed (logged, as a warning
    when the config asked for batching)."""
    window = cfg.batch_window_ms
    if window is None:  # unset: batch on an accelerator, or where the config sets max_batch
        window = DEFAULT_WINDOW_MS if provider not in CPU_BACKENDS or cfg.max_batch is not None else 0.0
    if window <= 0 or cfg.max_batch == 1 or cameras < 2:
        return None
    if fixed_batch is not None:
        asked = bool({"batch_window_ms", "max_batch"} & cfg.model_fields_set)
        log.log(logging.WARNING if asked else logging.INFO,
                "models.detector: %s has a fixed batch of %d: the frames of %d cameras run one inference call "
                "each (batching needs a model exported with a dynamic batch)", model, fixed_batch, cameras)
        return None
    return window, min(cfg.max_batch or cameras, cameras)


class MuxedDetectorStage(TimedStage):
    """The detector stage with cross-camera batching (see the module docstring).

    :param detector: the plain detector stage (its model runs each batch in one call; counts frames).
    :param post: what each frame goes through after the batch, ending in ``detector`` (the tiered stage around
        it, or ``detector`` itself); reachable as ``.stage``.
    :param emit: where the products go (the box's input for products of the ``detector`` stage).
    :param cameras: the camera ids (sources) expected, so that the first batch already waits for all of them.
    :param histogram: per frame, the time from its arrival here to its products (window wait + inference +
        ``post``): the detector stage's latency, as :class:`TimedStage` measures it without batching.
    """

    thread_model = "batch worker"  # its own batching thread emits (rsu.app.dataflow reads this)

    def __init__(self, detector: BatchDetector, post: Stage, *, window_ms: float, max_batch: int | None,
                 emit: Callable[[Product], None], cameras: Sequence[str] = (),
                 histogram: LatencyHistogram | None = None, clock: Clock = SYSTEM_CLOCK) -> None:
        super().__init__(post, histogram)
        self.detector = detector
        self.muxer: StreamMuxer[tuple[Frame, int]] = StreamMuxer(int(window_ms * 1e6), max_batch,
                                                                 cameras=cameras)
        self._emit = emit
        self._clock = clock
        self._cond = threading.Condition()
        self._closing = False
        self._thread: threading.Thread | None = None
        self.errors = 0
        self.emitted = 0
        self.infer_ms_total = 0.0

    # -- lifecycle --------------------------------------------------------------------------------------
    def open(self) -> None:
        """Open the wrapped stages and start the batching thread."""
        self.stage.open()
        with self._cond:
            if self._thread is None:
                self._closing = False
                self._thread = threading.Thread(target=self._loop, name=f"stage-{self.name}-muxer", daemon=True)
                self._thread.start()

    def close(self, timeout: float = 10.0) -> None:
        """Run what is pending as a last batch, then stop the thread (idempotent)."""
        with self._cond:
            self._closing = True
            self._cond.notify_all()
            thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)

    def finish(self, end_of_input: bool) -> list[Product]:
        """Shutdown: the pending frames' products are emitted before this returns."""
        self.close()
        return self.stage.finish(end_of_input)

    # -- per frame --------------------------------------------------------------------------------------
    def process(self, product: Product) -> list[Product]:
        """Queue a frame for the next batch; its products are emitted from the batching thread."""
        if not isinstance(product, Frame):
            return self.stage.process(product)
        with self._cond:
            queued = self._thread is not None
            if queued:
                now = self._clock.monotonic_ns()
                self.muxer.offer(product.source, (product, now), now)
                self._cond.notify_all()
        # not opened, or closed: no thread to batch on, so the frame runs at once on the caller's thread
        return [] if queued else self.stage.process(product)

    def _next_batch(self) -> list[tuple[Frame, int]] | None:
        """Wait for a ready batch; None once closing with nothing pending."""
        with self._cond:
            while True:
                now = self._clock.monotonic_ns()
                if self._closing:
                    batch = self.muxer.take(now, flush=True)
                    if not batch:
                        self._thread = None
                    return batch or None
                batch = self.muxer.take(now)
                if batch:
                    return batch
                deadline = self.muxer.deadline_ns()
                self._cond.wait(None if deadline is None else min(max(deadline - now, 0) / 1e9, _POLL_S))

    def _loop(self) -> None:
        while (batch := self._next_batch()) is not None:
            self._run(batch)

    def _run(self, batch: list[tuple[Frame, int]]) -> None:
        frames = [frame for frame, _ in batch]
        t0 = time.perf_counter()
        try:
            self.detector.detect_batch(frames)
        except Exception:  # noqa: BLE001 - a bad batch must not kill the stage; its frames go one by one
            log.exception("stage %s: a batch of %d frames failed; running them one by one", self.name, len(frames))
            self.errors += 1
        self.infer_ms_total += (time.perf_counter() - t0) * 1e3
        for frame, arrived in batch:
            try:
                results = self.stage.process(frame)
            except Exception:  # noqa: BLE001 - one bad frame must not lose the others
                log.exception("stage %s failed on a frame from %s", self.name, frame.source)
                self.errors += 1
                continue
            for result in results:
                self._emit(result)
                self.emitted += 1
            self.histogram.observe(max(0, self._clock.monotonic_ns() - arrived) / 1e9)

    def stats(self) -> dict[str, Any]:
        with self._cond:
            batching = self.muxer.stats()
        n = batching["batches"]
        batching.update(errors=self.errors, emitted=self.emitted,
                        infer_ms_mean=round(self.infer_ms_total / n, 3) if n else None)
        return {**self.stage.stats(), "batching": batching}
