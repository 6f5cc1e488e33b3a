"""Small timing helpers shared by the benchmarks."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence

import numpy as np


def time_calls(fn: Callable[[], object], repeat: int, warmup: int = 3) -> np.ndarray:
    """Call ``fn`` ``warmup`` times untimed, then ``repeat`` times; return each call's milliseconds."""
    for _ in range(warmup):
        fn()
    out = np.empty(repeat, dtype=np.float64)
    for i in range(repeat):
        t0 = time.perf_counter_ns()
        fn()
        out[i] = (time.perf_counter_ns() - t0) / 1e6
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
