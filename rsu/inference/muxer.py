"""A stream muxer (DeepStream's ``nvstreammux`` idea): frames of several cameras that arrive within a short window
go to the model as one batch.

Pure bookkeeping, no threads, no clock of its own: every call gets ``now_ns`` (a monotonic reading), so tests
drive it with a :class:`~rsu.core.clock.ManualClock`. Rules:

- one slot per camera: a newer frame of a camera replaces its pending one (the older is shed, counted
  ``superseded``), so a batch holds at most one frame per camera, the newest;
- a batch is ready as soon as it is **full** (``max_batch`` frames, or a frame from every camera seen in the
  last ``active_ns``), else when the **window** has passed since its oldest frame arrived: the first frame of a
  batch never waits longer than ``window_ns`` for the others;
- :meth:`take` hands out the ready batch (at most ``max_batch`` frames, oldest arrival first) and records why
  it closed and how long its first frame waited.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

__all__ = ["StreamMuxer", "ACTIVE_NS"]

T = TypeVar("T")

ACTIVE_NS = 1_000_000_000
"""A camera counts as active (a full batch waits for it) while its last frame is at most this old (ns)."""


@dataclass(slots=True)
class _Slot(Generic[T]):
    item: T
    arrived_ns: int


class StreamMuxer(Generic[T]):
    """Per-camera slots and the batch-closing rule (see the module docstring). Not thread-safe: the caller
    holds a lock.

    :param window_ns: how long the first frame of a batch may wait for frames of other cameras (> 0).
    :param max_batch: most frames per batch; None: one per active camera, unbounded.
    :param active_ns: how recently a camera must have sent a frame for a full batch to wait for it.
    :param cameras: cameras expected from the start: a full batch waits for them as if they had sent a frame
        when the first frame of any camera arrived.
    """

    def __init__(self, window_ns: int, max_batch: int | None = None, active_ns: int = ACTIVE_NS,
                 cameras: Iterable[str] = ()) -> None:
        if window_ns <= 0:
            raise ValueError(f"window_ns: expected > 0, got {window_ns}")
        if max_batch is not None and max_batch < 1:
            raise ValueError(f"max_batch: expected >= 1 or None, got {max_batch}")
        if active_ns <= 0:
            raise ValueError(f"active_ns: expected > 0, got {active_ns}")
        self.window_ns, self.max_batch, self.active_ns = int(window_ns), max_batch, int(active_ns)
        self._slots: dict[str, _Slot[T]] = {}
        self._seen: dict[str, int] = {}  # camera -> arrival of its last frame
        self._expected = tuple(cameras)
        self.counts = {"frames": 0, "superseded": 0, "batches": 0, "batched_frames": 0, "full": 0,
                       "window_waits": 0, "flushed": 0}
        self.sizes: dict[int, int] = {}  # batch size -> how many batches had it
        self.wait_ns_total = 0
        self.wait_ns_max = 0

    def __len__(self) -> int:
        return len(self._slots)

    def offer(self, camera: str, item: T, now_ns: int) -> T | None:
        """Put ``item`` in ``camera``'s slot; returns the item it replaced (shed), or None."""
        self.counts["frames"] += 1
        if self._expected:
            self._seen.update((c, now_ns) for c in self._expected)
            self._expected = ()
        self._seen[camera] = now_ns
        old = self._slots.pop(camera, None)
        arrived = now_ns
        if old is not None:
            self.counts["superseded"] += 1
            arrived = old.arrived_ns  # the slot keeps its place and its window: the newest frame goes with it
        self._slots[camera] = _Slot(item, arrived)
        return None if old is None else old.item

    def _oldest_ns(self) -> int | None:
        return min((s.arrived_ns for s in self._slots.values()), default=None)

    def deadline_ns(self) -> int | None:
        """When the window of the pending batch closes (None: nothing pending)."""
        oldest = self._oldest_ns()
        return None if oldest is None else oldest + self.window_ns

    def _full(self, now_ns: int) -> bool:
        if self.max_batch is not None and len(self._slots) >= self.max_batch:
            return True
        for camera, seen in list(self._seen.items()):
            if now_ns - seen > self.active_ns:
                del self._seen[camera]  # gone quiet: batches stop waiting for it
            elif camera not in self._slots:
                return False
        return bool(self._slots)

    def ready(self, now_ns: int) -> bool:
        """True when :meth:`take` would hand out a batch now."""
        deadline = self.deadline_ns()
        return deadline is not None and (now_ns >= deadline or self._full(now_ns))

    def take(self, now_ns: int, *, flush: bool = False) -> list[T]:
        """The ready batch, oldest frame first (empty when none is ready); ``flush`` takes what is pending
        regardless (shutdown)."""
        if not self._slots:
            return []
        full = self._full(now_ns)
        deadline = self.deadline_ns()
        assert deadline is not None
        if not (full or now_ns >= deadline or flush):
            return []
        order = sorted(self._slots.items(), key=lambda kv: kv[1].arrived_ns)[:self.max_batch]
        for camera, _ in order:
            del self._slots[camera]
        wait = max(0, now_ns - order[0][1].arrived_ns)
        reason = "full" if full else ("window_waits" if now_ns >= deadline else "flushed")
        self.counts[reason] += 1
        self.counts["batches"] += 1
        self.counts["batched_frames"] += len(order)
        self.sizes[len(order)] = self.sizes.get(len(order), 0) + 1
        self.wait_ns_total += wait
        self.wait_ns_max = max(self.wait_ns_max, wait)
        return [slot.item for _, slot in order]

    def stats(self) -> dict[str, Any]:
        """Counts, batch sizes, mean batch size and the first frame's wait (mean, max) in ms."""
        n = self.counts["batches"]
        return {**self.counts, "pending": len(self._slots), "window_ms": self.window_ns / 1e6,
                "max_batch": self.max_batch,
                "mean_batch": round(self.counts["batched_frames"] / n, 3) if n else None,
                "batch_sizes": {str(k): v for k, v in sorted(self.sizes.items())},
                "first_wait_ms_mean": round(self.wait_ns_total / n / 1e6, 3) if n else None,
                "first_wait_ms_max": round(self.wait_ns_max / 1e6, 3)}
