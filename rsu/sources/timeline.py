"""The time of a replay: which recorded event times to trust, when to emit, and what event time to publish.

Recorded times are checked as the records come (:meth:`ReplayTimeline.admit`): a time going backwards
is skipped (``time_out_of_order``), a single time ahead of both its neighbours is skipped as an outlier
(``time_outliers``), and ``resync_after`` consecutive backward times that follow each other re-anchor the
timeline (``time_resyncs``: a recording spliced from two). A forward gap longer than ``max_gap_s`` is not
waited out (``time_gaps_skipped``).

Published event times (:meth:`ReplayTimeline.stamp`) are never ahead of the box clock:

- ``rebase_time`` and ``speed > 0``: the timeline is *compressed* onto the wall clock,
  ``t_published = start_wall + (t - t0) / speed``, so a 20x replay publishes 20 recorded seconds per
  wall second, each at (or just before) the moment it is emitted (``time_mode`` ``compressed``; ``rebased``
  at speed 1);
- ``rebase_time`` and ``speed == 0``: as fast as possible, stamped with the clock (``time_mode`` ``now``);
- no ``rebase_time``: the recorded times as they are (``time_mode`` ``recorded``).

Any published time that would still be ahead of the clock is stamped with the clock (counted as
``time_clamped`` when more than 1 ms ahead).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any, TypeVar

__all__ = ["ReplayTimeline", "DEFAULT_MAX_GAP_S"]

DEFAULT_MAX_GAP_S = 3600.0
_CLAMP_NOTICE_NS = 1_000_000  # a wake-up a little early is not worth counting
T = TypeVar("T")


class ReplayTimeline:
    """Pacing and event-time mapping of one replay (one instance per source; reused across loop passes).

    :param wall_ns: the box clock (ns since the epoch); :param monotonic: seconds, for pacing. Both injectable.
    """

    def __init__(self, *, speed: float, rebase: bool, max_gap_s: float = DEFAULT_MAX_GAP_S, resync_after: int = 3,
                 wall_ns: Callable[[], int] = time.time_ns, monotonic: Callable[[], float] = time.monotonic) -> None:
        if not speed >= 0:
            raise ValueError(f"speed: expected >= 0, got {speed!r}")
        self.speed, self.rebase = float(speed), rebase
        self.max_gap_ns = int(max_gap_s * 1e9)
        self.resync_after = resync_after
        self.wall_ns, self.monotonic = wall_ns, monotonic
        self.counts = dict.fromkeys(("time_out_of_order", "time_outliers", "time_resyncs", "time_gaps_skipped",
                                     "time_clamped"), 0)
        self.pass_shift_ns = 0  # recorded mode, loop: later passes continue after the end of the previous one
        self._last: int | None = None  # last admitted recorded time
        self._back: list[int] = []  # consecutive backward times
        self._anchor_t = 0
        self._anchor_mono = 0.0
        self._anchor_wall = 0
        self._last_out = 0
        self._span = (0, 0)

    @property
    def mode(self) -> str:
        if not self.rebase:
            return "recorded"
        if self.speed == 0:
            return "now"
        return "rebased" if self.speed == 1 else "compressed"

    # ---------------------------------------------------------------------------------------------- admission
    def begin_pass(self) -> None:
        """A new pass over the recording: forget the last time; recorded mode continues after the last pass."""
        if self._last is not None and not self.rebase:
            first, last = self._span
            self.pass_shift_ns += last - first + 100_000_000
        self._last, self._back = None, []

    def filter(self, items: Iterable[T], time_of: Callable[[T], int]) -> Iterator[T]:
        """The items whose recorded times are admitted, in order (one item of lookahead)."""
        it = iter(items)
        cur = next(it, None)
        while cur is not None:
            nxt = next(it, None)
            if self.admit(time_of(cur), None if nxt is None else time_of(nxt)):
                yield cur
            cur = nxt

    def admit(self, t: int, next_t: int | None = None) -> bool:
        """Whether the record at recorded time ``t`` (followed by one at ``next_t``) is replayed."""
        last = self._last
        if last is not None and t < last:
            if self._back and t >= self._back[-1]:
                self._back.append(t)
            else:
                self._back = [t]
            if len(self._back) < self.resync_after:
                self.counts["time_out_of_order"] += 1
                return False
            self.counts["time_resyncs"] += 1
            self._back = []
            self._anchor(t)
            return True
        self._back = []
        if next_t is not None and next_t < t and (last is None or next_t >= last) and (
                last is not None or t - next_t > self.max_gap_ns):
            self.counts["time_outliers"] += 1  # ahead of both neighbours: one bad time, not a new timeline
            return False
        if last is None:
            self._anchor(t)
            self._span = (t, t)
        elif t - last > self.max_gap_ns:
            self.counts["time_gaps_skipped"] += 1
            self._anchor(t)
        self._last = t
        self._span = (self._span[0], max(self._span[1], t))
        return True

    def _anchor(self, t: int) -> None:
        self._last = t
        self._anchor_t, self._anchor_mono, self._anchor_wall = t, self.monotonic(), self.wall_ns()
        if self.rebase and self._anchor_wall <= self._last_out:
            self._anchor_wall = self._last_out + 1

    # ---------------------------------------------------------------------------------------------- emission
    def due(self, t: int) -> float | None:
        """Monotonic time (s) at which to emit the admitted record at ``t``; ``None`` = now (speed 0)."""
        if self.speed <= 0:
            return None
        return self._anchor_mono + (t - self._anchor_t) / 1e9 / self.speed

    def stamp(self, t: int) -> int:
        """The event time to publish for the admitted record at ``t``, at the moment it is emitted."""
        now = self.wall_ns()
        if not self.rebase:
            out = t + self.pass_shift_ns
        elif self.speed > 0:
            out = self._anchor_wall + int((t - self._anchor_t) / self.speed)
        else:
            out = now
        if self.rebase:
            out = max(out, self._last_out)  # never backwards within a compressed timeline ...
        if out > now:  # ... and never ahead of the clock (that wins when the wall clock steps back)
            if out - now > _CLAMP_NOTICE_NS:
                self.counts["time_clamped"] += 1
            out = now
        self._last_out = out
        return out

    def stats(self) -> dict[str, Any]:
        scale = 1.0 / self.speed if self.rebase and self.speed > 0 else (1.0 if not self.rebase else 0.0)
        return {"time_mode": self.mode, "time_scale": scale, **self.counts}
