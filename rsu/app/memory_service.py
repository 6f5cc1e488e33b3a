"""The allocator service: tunes glibc's malloc for a long-running box at start-up and trims its heap on an
interval (see :mod:`rsu.core.allocator` for what was measured and why)."""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

from rsu.core.allocator import AllocatorSettings, heap_info, trim, tune

__all__ = ["AllocatorService", "tune_from_config"]

log = logging.getLogger(__name__)


def tune_from_config(memory: Any) -> dict[str, Any]:
    """Apply ``pipeline.memory`` (a :class:`rsu.config.pipeline.MemoryConfig`); what was applied, for the log."""
    if not memory.tune_allocator:
        return {"allocator": "untouched"}
    applied = tune(AllocatorSettings(mmap_threshold=memory.mmap_threshold_kb * 1024, arena_max=memory.arena_max))
    log.debug("allocator: %s", applied)
    return applied


class AllocatorService:
    """Calls ``malloc_trim`` every ``interval_s`` on its own thread (none when the interval is 0)."""

    name = "allocator"

    def __init__(self, interval_s: float, applied: dict[str, Any] | None = None) -> None:
        self.interval_s = interval_s
        self.applied = dict(applied or {})
        self.trims = 0
        self.trim_ms_total = 0.0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        if self.interval_s > 0 and self._thread is None:
            self._thread = threading.Thread(target=self._loop, name="allocator-trim", daemon=True)
            self._thread.start()

    def _loop(self) -> None:
        while not self._stop.wait(self.interval_s):
            self.trim_once()

    def trim_once(self) -> bool:
        """One trim; False where glibc is absent."""
        t0 = time.perf_counter()
        done = trim()
        if done or self.applied.get("allocator") == "glibc":
            self.trims += 1
            self.trim_ms_total += (time.perf_counter() - t0) * 1e3
        return done

    def stop(self, deadline: float) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(max(0.0, deadline - time.monotonic()))

    def stats(self) -> dict[str, Any]:
        return {"settings": self.applied, "trims": self.trims, "trim_ms_total": round(self.trim_ms_total, 2),
                "heap": heap_info()}
