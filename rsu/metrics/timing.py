"""Latency histograms of stage calls (e.g. detector inference), exported to Prometheus at scrape time."""

from __future__ import annotations

import bisect
import threading
import time
from collections.abc import Iterator, Sequence
from typing import Any

from rsu_sdk import Product

from rsu.core.stage import StageWrapper

__all__ = ["LatencyHistogram", "TimedStage", "timed_stages"]

DEFAULT_BUCKETS_MS = (1, 2, 5, 10, 20, 35, 50, 75, 100, 150, 200, 300, 500, 1000, 2000)


class LatencyHistogram:
    """Thread-safe cumulative histogram of durations (seconds) with fixed upper bounds (ms)."""

    def __init__(self, buckets_ms: Sequence[float] = DEFAULT_BUCKETS_MS) -> None:
        self.bounds_s = [b / 1e3 for b in buckets_ms]
        self._counts = [0] * (len(self.bounds_s) + 1)  # the last one is +Inf
        self._sum = 0.0
        self._lock = threading.Lock()

    def observe(self, seconds: float) -> None:
        i = bisect.bisect_left(self.bounds_s, seconds)
        with self._lock:
            self._counts[i] += 1
            self._sum += seconds

    def snapshot(self) -> tuple[list[tuple[str, int]], float, int]:
        """(cumulative ``(le, count)`` buckets ending with ``+Inf``, sum in seconds, count)."""
        with self._lock:
            counts, total = list(self._counts), self._sum
        out, running = [], 0
        for bound, n in zip([*map(repr, self.bounds_s), "+Inf"], counts):
            running += n
            out.append((bound, running))
        return out, total, running

    def quantile_ms(self, q: float) -> float | None:
        """An upper-bound estimate of the ``q`` quantile (the bucket bound it falls in), ms."""
        buckets, _, count = self.snapshot()
        if count == 0:
            return None
        for (_, n), upper in zip(buckets, [*self.bounds_s, float("inf")]):
            if n >= q * count:
                return upper * 1e3
        return None


class TimedStage(StageWrapper):
    """Wraps a stage and times each ``process`` call into ``histogram`` (what the wrapped stage does is
    unchanged: same name, inputs, results and stats)."""

    def __init__(self, stage: Any, histogram: LatencyHistogram | None = None) -> None:
        super().__init__(stage)
        self.histogram = histogram or LatencyHistogram()

    def process(self, product: Product) -> list[Product]:
        t0 = time.perf_counter()
        try:
            return self.stage.process(product)
        finally:
            self.histogram.observe(time.perf_counter() - t0)


def timed_stages(stages: Sequence[Any]) -> Iterator[TimedStage]:
    """Every :class:`TimedStage` in ``stages``, looking through wrappers that keep the inner one as ``.stage``."""
    for stage in stages:
        seen = 0
        while stage is not None and seen < 8:
            if isinstance(stage, TimedStage):
                yield stage
                break
            stage, seen = getattr(stage, "stage", None), seen + 1
