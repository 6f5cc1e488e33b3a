"""Adaptive inference rate: the detector runs faster when the scene is busy, slower when it is quiet, and
slower still while the CPU stays overloaded. Every change is logged and counted.

- Density: the number of tracked objects (from :class:`ObjectList`), with hysteresis: ``>= busy_objects``
  turns the scene busy (``busy_hz``), ``<= quiet_objects`` turns it quiet (``quiet_hz``).
- CPU: when the load stays above ``cpu_high_pct`` for ``cpu_window_s``, the rate is multiplied by
  ``cpu_factor`` (again after each further window, down to ``min_hz``); it recovers once the load falls.
- :class:`RateLimitedStage` wraps the detector stage: a frame is admitted when ``1 / rate`` has passed (in
  event time) since the last admitted frame of the same camera; others are dropped and counted.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from rsu_sdk import ObjectList, Product

from rsu.core.stage import StageWrapper

__all__ = ["AdaptiveRate", "RateLimitedStage", "CpuSampler"]

log = logging.getLogger(__name__)


class AdaptiveRate:
    """The detector rate controller (``pipeline.adaptive_rate`` config). Thread-safe."""

    def __init__(self, cfg: Any, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.cfg = cfg
        self._clock = clock
        self._lock = threading.Lock()
        self.busy = False
        self.cpu_level = 0  # how many times the CPU factor applies
        self._cpu_high_since: float | None = None
        self._cpu_low_since: float | None = None
        self.rate_hz = cfg.quiet_hz
        self.changes: list[dict[str, Any]] = []
        self.counts = {"changes": 0, "to_busy": 0, "to_quiet": 0, "cpu_down": 0, "cpu_up": 0}

    def _recompute(self, reason: str) -> None:
        c = self.cfg
        base = c.busy_hz if self.busy else c.quiet_hz
        rate = max(c.min_hz, base * (c.cpu_factor ** self.cpu_level)) if c.enabled else c.busy_hz
        if rate != self.rate_hz:
            log.info("detector rate %.2f -> %.2f Hz (%s)", self.rate_hz, rate, reason)
            self.changes.append({"t": time.time_ns(), "from_hz": self.rate_hz, "to_hz": rate, "reason": reason})
            del self.changes[:-50]
            self.counts["changes"] += 1
            self.rate_hz = rate

    def observe_objects(self, n: int) -> float:
        """Account for a fusion cycle with ``n`` tracked objects; returns the rate."""
        c = self.cfg
        with self._lock:
            if not self.busy and n >= c.busy_objects:
                self.busy = True
                self.counts["to_busy"] += 1
                self._recompute(f"busy: {n} objects >= {c.busy_objects}")
            elif self.busy and n <= c.quiet_objects:
                self.busy = False
                self.counts["to_quiet"] += 1
                self._recompute(f"quiet: {n} objects <= {c.quiet_objects}")
            return self.rate_hz

    def observe_cpu(self, percent: float) -> float:
        """Account for a CPU load sample (0-100 %); returns the rate."""
        c, now = self.cfg, self._clock()
        with self._lock:
            if percent > c.cpu_high_pct:
                self._cpu_low_since = None
                if self._cpu_high_since is None:
                    self._cpu_high_since = now
                elif now - self._cpu_high_since >= c.cpu_window_s:
                    self._cpu_high_since = now  # another full window before the next step
                    if c.min_hz < self.rate_hz:
                        self.cpu_level += 1
                        self.counts["cpu_down"] += 1
                        self._recompute(f"cpu above {c.cpu_high_pct:.0f}% for {c.cpu_window_s:.0f} s")
            else:
                self._cpu_high_since = None
                if self.cpu_level:
                    if self._cpu_low_since is None:
                        self._cpu_low_since = now
                    elif now - self._cpu_low_since >= c.cpu_window_s:
                        self._cpu_low_since = now
                        self.cpu_level -= 1
                        self.counts["cpu_up"] += 1
                        self._recompute(f"cpu below {c.cpu_high_pct:.0f}% for {c.cpu_window_s:.0f} s")
            return self.rate_hz

    def stats(self) -> dict[str, Any]:
        with self._lock:
            return {"rate_hz": self.rate_hz, "busy": self.busy, "cpu_level": self.cpu_level, **self.counts,
                    "recent_changes": list(self.changes[-10:])}


class CpuSampler:
    """Feeds :meth:`AdaptiveRate.observe_cpu` with ``psutil.cpu_percent`` every ``period_s`` on a thread."""

    def __init__(self, rate: AdaptiveRate, period_s: float = 1.0) -> None:
        self.rate, self.period_s = rate, period_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="cpu-sampler", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def _loop(self) -> None:
        import psutil

        psutil.cpu_percent(None)
        while not self._stop.wait(self.period_s):
            self.rate.observe_cpu(psutil.cpu_percent(None))

    def stop(self) -> None:
        self._stop.set()


class RateLimitedStage(StageWrapper):
    """Wraps a stage (the detector): admits a camera's frame only every ``1 / rate`` seconds of event time,
    and observes the ObjectLists (wherever they are made: fusion runs after the detector) to learn the traffic
    density."""

    def __init__(self, stage: Any, rate: AdaptiveRate) -> None:
        super().__init__(stage)
        self.rate = rate
        self.observes = (*getattr(stage, "observes", ()), ObjectList)
        self._last: dict[str, int] = {}
        self.counts = {"admitted": 0, "skipped": 0}

    def observe(self, product: Product) -> None:
        if isinstance(product, ObjectList):
            self.rate.observe_objects(len(product.objects))
        else:
            self.stage.observe(product)

    def process(self, product: Product) -> list[Product]:
        period_ns = int(1e9 / self.rate.rate_hz)
        last = self._last.get(product.source)
        t = int(product.t_event_ns)
        if last is not None and t - last < period_ns - 1_000_000:  # 1 ms slack for camera jitter
            self.counts["skipped"] += 1
            return []
        self._last[product.source] = t
        self.counts["admitted"] += 1
        return self.stage.process(product)

    def stats(self) -> dict[str, Any]:
        return {**self.stage.stats(), "rate": {**self.counts, **self.rate.stats()}}
