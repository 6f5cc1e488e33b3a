"""Event-time alignment: a bounded out-of-orderness buffer that pairs each camera frame with the
nearest radar cycle and releases fusion cycles in event-time order.

Watermark: for every source that is not idle, its newest event time minus ``max_out_of_order``; the
watermark is the minimum over those (never moving back). A source whose newest event is more than
``idle`` behind the newest of all stops holding the watermark back. Items are released in time order up
to ``watermark - 2 * window``: a camera frame takes the nearest unclaimed radar cycle within
``window``; a radar cycle that no camera frame takes as its nearest becomes a cycle of its own.
Items older than what was already released are late: counted and dropped; an item more than
:data:`~rsu.core.clock.CLOCK_STEP_NS` older is a step of the clock that stamped it (set back): what is
buffered is released and a new timeline starts with it (counted as ``clock_steps``), so a clock set back an
hour does not drop an hour of input.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass
from typing import Any

from rsu_sdk import Detections, RadarScan

from rsu.core.clock import CLOCK_STEP_NS
from rsu.fusion.serde import detections_from_dict, detections_to_dict, scan_from_dict, scan_to_dict

__all__ = ["Aligner", "Cycle"]


@dataclass(frozen=True, slots=True)
class Cycle:
    """One fusion cycle: a camera frame and/or a radar cycle, at time ``t_ns``."""

    t_ns: int
    camera: Detections | None = None
    radar: RadarScan | None = None


class Aligner:
    def __init__(self, max_out_of_order_ns: int, window_ns: int, idle_ns: int) -> None:
        self.ooo, self.window, self.idle = int(max_out_of_order_ns), int(window_ns), int(idle_ns)
        self.cams: list[tuple[int, int, Detections]] = []  # (t, seq, item), sorted
        self.radars: list[tuple[int, int, RadarScan]] = []
        self.newest: dict[str, int] = {}
        self.watermark: int | None = None
        self.released_until: int | None = None
        self._seq = 0
        self.counts = dict.fromkeys(("accepted", "late", "cycles", "paired", "camera_alone", "radar_alone",
                                    "clock_steps"), 0)

    # ------------------------------------------------------------------ input
    def push(self, item: Detections | RadarScan) -> list[Cycle]:
        t = int(item.t_event_ns)
        stepped: list[Cycle] = []
        if self.released_until is not None and t <= self.released_until:
            if self.released_until - t <= CLOCK_STEP_NS:
                self.counts["late"] += 1
                return []
            stepped = self.flush()  # the clock was set back: finish the old timeline, start a new one
            self.counts["clock_steps"] += 1
            self.newest, self.watermark, self.released_until = {}, None, None
        self.counts["accepted"] += 1
        self._seq += 1
        entry = (t, self._seq, item)
        bisect.insort(self.cams if isinstance(item, Detections) else self.radars, entry)  # type: ignore[arg-type]
        self.newest[item.source] = max(t, self.newest.get(item.source, t))
        self._advance()
        return stepped + self._release(self._horizon())

    def flush(self) -> list[Cycle]:
        """Release everything buffered (end of input)."""
        return self._release(None)

    # ------------------------------------------------------------------ internals
    def _advance(self) -> None:
        top = max(self.newest.values())
        marks = [t - self.ooo for t in self.newest.values() if top - t <= self.idle]
        wm = min(marks)
        if self.watermark is None or wm > self.watermark:
            self.watermark = wm

    def _horizon(self) -> int | None:
        return None if self.watermark is None else self.watermark - 2 * self.window

    def _release(self, horizon: int | None) -> list[Cycle]:
        cams, radars, w = self.cams, self.radars, self.window
        # each radar cycle belongs to its nearest camera frame within the window (earlier one on ties) ...
        owned: dict[int, list[int]] = {}
        ci = 0
        for j, (rt, _, _) in enumerate(radars):
            while ci < len(cams) and cams[ci][0] < rt - w:
                ci += 1
            best, best_d = None, None
            k = ci
            while k < len(cams) and cams[k][0] <= rt + w:
                d = abs(cams[k][0] - rt)
                if best_d is None or d < best_d:
                    best, best_d = k, d
                k += 1
            if best is not None:
                owned.setdefault(best, []).append(j)
        # ... and each camera frame takes the nearest of the cycles it owns
        chosen: dict[int, int] = {}
        for i, js in owned.items():
            chosen[i] = min(js, key=lambda j: (abs(radars[j][0] - cams[i][0]), j))
        taken = set(chosen.values())
        events: list[tuple[int, int, Cycle]] = []
        done_cams: set[int] = set()
        done_radars: set[int] = set()
        for i, (t, seq, cam) in enumerate(cams):
            if horizon is not None and t > horizon:
                break
            j = chosen.get(i)
            events.append((t, seq, Cycle(t, cam, None if j is None else radars[j][2])))
            done_cams.add(i)
            if j is not None:
                done_radars.add(j)
            self.counts["paired" if j is not None else "camera_alone"] += 1
        for j, (t, seq, scan) in enumerate(radars):
            if horizon is not None and t > horizon:
                break
            if j in taken:
                continue
            events.append((t, seq, Cycle(t, None, scan)))
            done_radars.add(j)
            self.counts["radar_alone"] += 1
        if not events:
            return []
        events.sort(key=lambda e: (e[0], e[1]))
        self.cams = [c for i, c in enumerate(cams) if i not in done_cams]
        self.radars = [r for j, r in enumerate(radars) if j not in done_radars]
        self.released_until = max(self.released_until or 0, events[-1][0])
        self.counts["cycles"] += len(events)
        return [e[2] for e in events]

    # ------------------------------------------------------------------ state
    def snapshot(self) -> dict[str, Any]:
        return {
            "cams": [detections_to_dict(c[2]) for c in self.cams],
            "radars": [scan_to_dict(r[2]) for r in self.radars],
            "newest": dict(self.newest), "watermark": self.watermark, "released_until": self.released_until,
            "counts": dict(self.counts),
        }

    def restore(self, snap: dict[str, Any]) -> None:
        self.cams, self.radars, self._seq = [], [], 0
        for doc in snap["cams"]:
            self._seq += 1
            self.cams.append((int(doc["t_event"]), self._seq, detections_from_dict(doc)))
        for doc in snap["radars"]:
            self._seq += 1
            self.radars.append((int(doc["t_event"]), self._seq, scan_from_dict(doc)))
        self.newest = {k: int(v) for k, v in snap["newest"].items()}
        self.watermark, self.released_until = snap["watermark"], snap["released_until"]
        self.counts = dict(snap["counts"])
