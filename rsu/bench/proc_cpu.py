"""CPU time of a set of processes from ``/proc`` (user + system), sampled on a thread, so a benchmark can ask what
they spent between two instants it learns only afterwards (the first and last result of a run)."""

from __future__ import annotations

import bisect
import os
import threading
import time
from collections.abc import Callable
from pathlib import Path

__all__ = ["process_cpu_s", "CpuSampler"]

_TICK = os.sysconf("SC_CLK_TCK")


def process_cpu_s(pid: int) -> float | None:
    """User + system CPU seconds of ``pid`` (all its threads); None when it is gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat[stat.rindex(")") + 2:].split()
    return (int(fields[11]) + int(fields[12])) / _TICK  # utime, stime (fields 14 and 15 of proc(5))


class CpuSampler:
    """Samples the summed CPU time of ``pids()`` every ``interval_s``; a process that exits keeps what it spent."""

    def __init__(self, pids: Callable[[], list[int]], interval_s: float = 0.1) -> None:
        self._pids = pids
        self._interval = interval_s
        self._last: dict[int, float] = {}
        self.times: list[int] = []
        self.totals: list[float] = []
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._loop, name="cpu-sampler", daemon=True)

    def _sample(self) -> None:
        for pid in self._pids():
            cpu = process_cpu_s(pid)
            if cpu is not None:
                self._last[pid] = cpu
        with self._lock:
            self.times.append(time.time_ns())
            self.totals.append(sum(self._last.values()))

    def _loop(self) -> None:
        while not self._stop.wait(self._interval):
            self._sample()

    def start(self) -> CpuSampler:
        self._sample()
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(5)

    def cpu_between(self, t0_ns: int, t1_ns: int) -> float:
        """CPU seconds spent between two wall-clock instants (linear between samples)."""
        with self._lock:
            times, totals = list(self.times), list(self.totals)

        def at(t: int) -> float:
            i = bisect.bisect_left(times, t)
            if i <= 0:
                return totals[0]
            if i >= len(times):
                return totals[-1]
            f = (t - times[i - 1]) / max(1, times[i] - times[i - 1])
            return totals[i - 1] + f * (totals[i] - totals[i - 1])

        return at(t1_ns) - at(t0_ns)
