"""When to send a CPM and which objects go in it (ETSI TS 103 324 v2.1.1, clause 6.1), and splitting.

* Object inclusion: an object is included when it is new, moved more than 4 m, changed speed by more
  than 0.5 m/s or heading by more than 4 degrees since it was last included, or was last included 1 s
  ago or more.
* Generation interval: between ``T_GenCpmMin`` = 100 ms and ``T_GenCpmMax`` = 1 s; within that range the
  box uses its adaptive rate (busy / quiet). Time is event time (the fused objects' ``t_event_ns``).
* Splitting: objects that do not fit ``max_bytes`` go into further CPMs of the same generation event
  (``segmentationInfo``, at most 8); what does not fit 8 waits for the next event.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from rsu_sdk import FusedObject

__all__ = ["GenerationClock", "InclusionRules", "ObjectSelector", "RatePolicy", "split_segments",
           "T_GEN_MAX_NS", "T_GEN_MIN_NS"]

T_GEN_MIN_NS = 100_000_000
T_GEN_MAX_NS = 1_000_000_000
MAX_SEGMENTS = 8


@dataclass(frozen=True, slots=True, kw_only=True)
class InclusionRules:
    """Thresholds of the object inclusion rules (the standard's values by default)."""

    distance_m: float = 4.0
    speed_mps: float = 0.5
    heading_deg: float = 4.0
    refresh_ns: int = T_GEN_MAX_NS


@dataclass(slots=True)
class _LastSent:
    position: tuple[float, float, float]
    speed: float
    heading: float
    t_ns: int


def heading_change(a_deg: float, b_deg: float) -> float:
    """Smallest absolute angle between two headings, degrees (0..180)."""
    if not (math.isfinite(a_deg) and math.isfinite(b_deg)):
        return 0.0
    return abs((a_deg - b_deg + 180.0) % 360.0 - 180.0)


class ObjectSelector:
    """Remembers what was last sent per track and picks the objects due for inclusion."""

    def __init__(self, rules: InclusionRules | None = None) -> None:
        self.rules = rules or InclusionRules()
        self._last: dict[int, _LastSent] = {}

    def reason(self, obj: FusedObject, t_ns: int) -> str | None:
        """Why ``obj`` must be included at ``t_ns``: ``new``, ``moved``, ``speed``, ``heading``, ``refresh``;
        None when it need not be."""
        last = self._last.get(obj.track_id)
        if last is None:
            return "new"
        r = self.rules
        if math.dist(obj.position_enu, last.position) > r.distance_m:
            return "moved"
        if abs(obj.speed_mps - last.speed) > r.speed_mps:
            return "speed"
        if heading_change(obj.heading_deg, last.heading) > r.heading_deg:
            return "heading"
        if t_ns - last.t_ns >= r.refresh_ns:
            return "refresh"
        return None

    def select(self, objects: Iterable[FusedObject], t_ns: int) -> list[FusedObject]:
        """The objects due at ``t_ns``: new ones first, then the longest unsent first.

        Tracks absent from ``objects`` are forgotten (a track that comes back counts as new).
        """
        objects = list(objects)
        live = {o.track_id for o in objects}
        for gone in [tid for tid in self._last if tid not in live]:
            del self._last[gone]
        due = [o for o in objects if self.reason(o, t_ns) is not None]
        due.sort(key=lambda o: self._last[o.track_id].t_ns if o.track_id in self._last else -1)
        return due

    def mark_sent(self, objects: Iterable[FusedObject], t_ns: int) -> None:
        """Record that ``objects`` went out at ``t_ns`` (the reference for the next comparisons)."""
        for o in objects:
            self._last[o.track_id] = _LastSent(o.position_enu, o.speed_mps, o.heading_deg, t_ns)

    def __len__(self) -> int:
        return len(self._last)


@dataclass(frozen=True, slots=True, kw_only=True)
class RatePolicy:
    """Adaptive CPM rate: ``busy_hz`` when at least ``busy_threshold`` objects are tracked, else ``quiet_hz``.

    Intervals are clamped to [100 ms, 1 s]; ``jitter_ns`` tolerates input timestamps arriving a little
    early, never going below 100 ms.
    """

    busy_hz: float = 10.0
    quiet_hz: float = 5.0
    busy_threshold: int = 5
    jitter_ns: int = 2_000_000

    def interval_ns(self, n_objects: int) -> int:
        """The generation interval for ``n_objects`` tracked objects."""
        hz = self.busy_hz if n_objects >= self.busy_threshold else self.quiet_hz
        interval = round(1e9 / hz) if hz > 0 else T_GEN_MAX_NS
        return min(max(interval, T_GEN_MIN_NS), T_GEN_MAX_NS)


class GenerationClock:
    """Decides, per fused-object cycle, whether a CPM generation event is due (event time)."""

    def __init__(self, policy: RatePolicy | None = None) -> None:
        self.policy = policy or RatePolicy()
        self.last_ns: int | None = None

    def due(self, t_ns: int, n_objects: int) -> bool:
        """True when ``t_ns`` is at least one interval (for ``n_objects``) after the last generation event."""
        if self.last_ns is None:
            return True
        if t_ns < self.last_ns:  # time went backwards (replay, clock step): start over
            return True
        wait = max(self.policy.interval_ns(n_objects) - self.policy.jitter_ns, T_GEN_MIN_NS)
        return t_ns - self.last_ns >= wait

    def since_last_ns(self, t_ns: int) -> int | None:
        """Nanoseconds since the last generation event, None before the first."""
        return None if self.last_ns is None else t_ns - self.last_ns

    def generated(self, t_ns: int) -> None:
        """Record a generation event at ``t_ns``."""
        self.last_ns = t_ns


def split_segments(
    n: int,
    size_of: Callable[[int, int], int],
    max_bytes: int,
    max_segments: int = MAX_SEGMENTS,
) -> list[tuple[int, int]]:
    """Cut items ``0..n`` into consecutive ``[start, stop)`` ranges whose CPMs fit ``max_bytes``.

    :param size_of: encoded size of the CPM carrying items ``[start, stop)`` (the first segment carries the
        extra containers). Sizes are assumed to grow with the number of items.
    :returns: at most ``max_segments`` ranges; items after the last range did not fit this time. A single
        item larger than ``max_bytes`` still gets its own segment (it cannot be split further).
    """
    if n <= 0:
        return [(0, 0)]
    full = size_of(0, n)
    if full <= max_bytes:
        return [(0, n)]
    per_item = max((full - size_of(0, 0)) / n, 1.0)
    segments: list[tuple[int, int]] = []
    start = 0
    while start < n and len(segments) < max_segments:
        base = size_of(start, start)
        remaining = n - start
        k = min(max(int((max_bytes - base) / per_item), 1), remaining)
        size = size_of(start, start + k)
        while size > max_bytes and k > 1:                      # shrink to fit
            k = max(k - max(math.ceil((size - max_bytes) / per_item), 1), 1)
            size = size_of(start, start + k)
        while size <= max_bytes and start + k < n:             # grow while it fits
            step = max(int((max_bytes - size) / per_item), 1)
            k2 = min(k + step, remaining)
            size2 = size_of(start, start + k2)
            if size2 > max_bytes and step > 1:                 # the estimate was optimistic: one more only
                k2 = k + 1
                size2 = size_of(start, start + k2)
            if size2 > max_bytes:
                break
            k, size = k2, size2
        segments.append((start, start + k))
        start += k
    return segments

