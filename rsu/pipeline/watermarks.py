"""Event-time watermarks with bounded out-of-orderness, with Flink's semantics.

After seeing event times up to ``max_t``, the watermark is ``max_t - out_of_orderness - 1`` (ns): no element
at or below it is expected any more; one that still comes is *late* (counted; the operator decides).
:class:`SourceWatermarks` keeps one such watermark per source and takes the minimum over the active ones (the
embedded runner's); :class:`BoundedOutOfOrderness` is one over a merged stream (one Flink source).
"""

from __future__ import annotations

import time
from collections.abc import Callable

from rsu.core.clock import CLOCK_STEP_NS

__all__ = ["BoundedOutOfOrderness", "END_OF_INPUT", "MIN_WATERMARK", "SourceWatermarks"]

END_OF_INPUT = 2**63 - 1
"""The watermark at end of input, and the timer time that fires only then (Flink's ``Long.MAX_VALUE``)."""
MIN_WATERMARK = -(2**63)


class BoundedOutOfOrderness:
    """One watermark over the whole merged input stream (as one Flink source would generate it)."""

    __slots__ = ("out_of_orderness_ns", "max_t", "watermark")

    def __init__(self, out_of_orderness_ns: int) -> None:
        if out_of_orderness_ns < 0:
            raise ValueError(f"out_of_orderness must be >= 0, got {out_of_orderness_ns} ns")
        self.out_of_orderness_ns = int(out_of_orderness_ns)
        self.max_t: int | None = None
        self.watermark = MIN_WATERMARK

    def is_late(self, t_ns: int) -> bool:
        return t_ns <= self.watermark

    def on_event(self, t_ns: int) -> bool:
        """Account for an element at ``t_ns``; True when the watermark moved forward."""
        if self.max_t is not None and t_ns <= self.max_t:
            return False
        self.max_t = t_ns
        wm = t_ns - self.out_of_orderness_ns - 1
        if wm > self.watermark:
            self.watermark = wm
            return True
        return False

    def end_of_input(self) -> None:
        self.watermark = END_OF_INPUT


class SourceWatermarks:
    """One bounded-out-of-orderness watermark per source; the operators' watermark is the minimum over the
    active sources and never moves back (Flink: per-split watermarks, ``withIdleness``) — except after a step
    of the clock: :meth:`step_back` starts a new timeline for an element more than
    :data:`~rsu.core.clock.CLOCK_STEP_NS` behind the watermark (see :meth:`is_step_back`).

    A source that has sent nothing for ``idle_ns`` of processing time stops holding the watermark back until
    it sends again. Sources are not declared up front: with ``warmup_ns`` the watermark does not advance for
    that long (processing time) after the first element, so that every source can show up first. ``activity(source)`` says when a source last sent (the box's lanes know even while the
    router is busy); without it, when the runner last saw an element of it. ``clock`` reads processing time.
    """

    __slots__ = ("out_of_orderness_ns", "idle_ns", "warmup_ns", "_activity", "_clock", "_seen", "_first",
                 "source_max", "max_t", "watermark")

    def __init__(self, out_of_orderness_ns: int, idle_ns: int | None = None, *,
                 activity: Callable[[str], int | None] | None = None,
                 clock: Callable[[], int] = time.monotonic_ns, warmup_ns: int | None = None) -> None:
        if out_of_orderness_ns < 0:
            raise ValueError(f"out_of_orderness must be >= 0, got {out_of_orderness_ns} ns")
        if idle_ns is not None and idle_ns <= 0:
            raise ValueError(f"idle timeout must be > 0, got {idle_ns} ns")
        self.out_of_orderness_ns = int(out_of_orderness_ns)
        self.idle_ns = idle_ns
        self.warmup_ns = warmup_ns
        self._activity = activity
        self._clock = clock
        self._seen: dict[str, int] = {}
        self._first: int | None = None
        self.source_max: dict[str, int] = {}
        self.max_t: int | None = None
        self.watermark = MIN_WATERMARK

    def is_late(self, t_ns: int) -> bool:
        return t_ns <= self.watermark

    def is_step_back(self, t_ns: int) -> bool:
        """Whether ``t_ns`` is so far behind the watermark that the clock stamping it was set back."""
        return MIN_WATERMARK < self.watermark < END_OF_INPUT and self.watermark - t_ns > CLOCK_STEP_NS

    def step_back(self) -> None:
        """Forget every source's newest time: the next elements set the watermark afresh (a new timeline)."""
        self.source_max = {}
        self.max_t = None
        self.watermark = MIN_WATERMARK

    def on_event(self, t_ns: int, source: str = "") -> bool:
        """Account for an element of ``source`` at ``t_ns``; True when the watermark moved forward."""
        now = self._clock()
        self._seen[source] = now
        if self.max_t is None or t_ns > self.max_t:
            self.max_t = t_ns
        prev = self.source_max.get(source)
        if prev is None or t_ns > prev:
            self.source_max[source] = t_ns
        if self._first is None:
            self._first = now
        if self.warmup_ns is not None and now - self._first < self.warmup_ns:
            return False  # warming up: sources still showing up
        marks = [m for s, m in self.source_max.items() if s == source or not self._idle(s, now)]
        wm = min(marks) - self.out_of_orderness_ns - 1
        if wm > self.watermark:
            self.watermark = wm
            return True
        return False

    def _idle(self, source: str, now: int) -> bool:
        if self.idle_ns is None:
            return False
        last = self._activity(source) if self._activity is not None else None
        if last is None:
            last = self._seen.get(source)
        return last is None or now - last > self.idle_ns

    def end_of_input(self) -> None:
        self.watermark = END_OF_INPUT

    def snapshot(self) -> dict[str, object]:
        return {"watermark": self.watermark, "max_t": self.max_t, "source_max": dict(self.source_max)}

    def restore(self, snap: dict[str, object]) -> None:
        self.watermark = int(snap["watermark"])  # type: ignore[call-overload]
        self.max_t = snap.get("max_t")  # type: ignore[assignment]
        self.source_max = {str(k): int(v) for k, v in dict(snap.get("source_max") or {}).items()}  # type: ignore[call-overload]
