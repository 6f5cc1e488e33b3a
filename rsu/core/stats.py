"""Counters and latency samples of one run, and the JSON summary written at exit."""

from __future__ import annotations

import threading
import time
from collections import Counter, defaultdict
from collections.abc import Sequence
from typing import Any

import numpy as np

_RESERVOIR = 20_000


class LatencyReservoir:
    """Keeps up to ``capacity`` samples (uniform reservoir sampling) for percentile estimates.

    The buffer is written once when made, so its pages are resident from the start: an untouched ``np.empty``
    would grow the box's resident memory page by page over hours as a slow topic fills it (what a soak
    reads as a leak).
    """

    def __init__(self, capacity: int = _RESERVOIR, seed: int = 0) -> None:
        self._samples = np.full(capacity, np.nan, dtype=np.float64)
        self._count = 0
        self._rng = np.random.default_rng(seed)

    def add(self, value: float) -> None:
        n = self._count
        if n < self._samples.size:
            self._samples[n] = value
        else:
            j = int(self._rng.integers(0, n + 1))
            if j < self._samples.size:
                self._samples[j] = value
        self._count = n + 1

    def percentiles(self) -> dict[str, float | int | None]:
        kept = self._samples[: min(self._count, self._samples.size)]
        if kept.size == 0:
            return {"n": 0, "p50_ms": None, "p99_ms": None}
        p50, p99 = np.percentile(kept, [50, 99])
        return {"n": self._count, "p50_ms": round(float(p50), 3), "p99_ms": round(float(p99), 3)}


class RunStats:
    """Thread-safe counters per stage and topic, drops, stale and late inputs, late events, and
    event-to-publish latency."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.started_ns = time.time_ns()
        self.stages: dict[str, Counter[str]] = defaultdict(Counter)
        self.drops: Counter[str] = Counter()
        self.late: Counter[str] = Counter()
        self.ahead: Counter[str] = Counter()
        self.stale: Counter[str] = Counter()
        self.late_inputs: Counter[str] = Counter()
        self._latency: dict[str, LatencyReservoir] = defaultdict(LatencyReservoir)

    def count(self, stage: str, key: str = "in", n: int = 1) -> None:
        with self._lock:
            self.stages[stage][key] += n

    def drop(self, where: str, n: int = 1) -> None:
        with self._lock:
            self.drops[where] += n

    def stale_input(self, where: str, n: int = 1) -> None:
        """Count inputs shed because they were older than their source's maximum age."""
        with self._lock:
            self.stale[where] += n

    def late_input(self, where: str, n: int = 1) -> None:
        """Count inputs whose event time was already behind the box's clock on arrival (still processed)."""
        with self._lock:
            self.late_inputs[where] += n

    def late_event(self, where: str, n: int = 1) -> None:
        with self._lock:
            self.late[where] += n

    def latency(self, product: str, t_event_ns: int, t_publish_ns: int) -> None:
        """Record event-to-publish latency. An event time ahead of the clock (a replay faster than real
        time, a sensor clock running ahead) has no latency: it is counted under ``event_time_ahead``."""
        with self._lock:
            if t_event_ns > t_publish_ns:
                self.ahead[product] += 1
                return
            self._latency[product].add((t_publish_ns - t_event_ns) / 1e6)
            self._latency["all"].add((t_publish_ns - t_event_ns) / 1e6)

    def summary(self, **extra: Any) -> dict[str, Any]:
        """The run summary: counts per stage, drops, stale inputs shed, inputs that arrived late, late events
        (behind the watermark), latency p50/p99 per product, plus ``extra``."""
        with self._lock:
            out: dict[str, Any] = {
                "started_ns": self.started_ns,
                "duration_s": round((time.time_ns() - self.started_ns) / 1e9, 3),
                "stages": {k: dict(v) for k, v in sorted(self.stages.items())},
                "drops": dict(self.drops),
                "late_events": dict(self.late),
                "stale": dict(self.stale),
                "late": dict(self.late_inputs),
                "latency_event_to_publish": {k: v.percentiles() for k, v in sorted(self._latency.items())},
                "event_time_ahead": dict(self.ahead),
            }
        out.update(extra)
        return out


def summary_ms(samples_ms: Sequence[float] | np.ndarray) -> dict[str, float]:
    """Median, p99 and mean of millisecond samples, rounded for JSON."""
    arr = np.asarray(samples_ms, dtype=np.float64)
    return {
        "p50_ms": round(float(np.median(arr)), 4),
        "p99_ms": round(float(np.percentile(arr, 99)), 4),
        "mean_ms": round(float(arr.mean()), 4),
        "n": int(arr.size),
    }
