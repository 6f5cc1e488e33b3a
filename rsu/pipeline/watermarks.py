"""Event-time watermarks with bounded out-of-orderness, with Flink's semantics.

After seeing event times up to ``max_t``, the watermark is ``max_t - out_of_orderness - 1`` (ns): no element
at or below it is expected any more; one that still comes is *late* (counted; the operator decides).
"""

from __future__ import annotations

__all__ = ["BoundedOutOfOrderness", "END_OF_INPUT", "MIN_WATERMARK"]

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
