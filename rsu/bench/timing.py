"""Small timing helpers shared by the benchmarks."""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np

from rsu.core.stats import summary_ms

__all__ = ["summary_ms", "time_calls"]


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
