"""Assemble ARS408 object-list frames into complete measurement cycles.

A cycle starts with ``0x60A`` (number of objects, measurement counter) and is filled by ``0x60B``
(one per object, always) and ``0x60C`` / ``0x60D`` (when the sensor is configured to send quality and
extended information, as reported by ``0x201``). A cycle is emitted, stamped with the time of its
``0x60A``, as soon as every expected frame of every object has arrived, or when the next ``0x60A``
arrives and every object has at least its ``0x60B``. Anything else is counted and skipped.

Measurement counters wrap, restart and can be corrupt: a cycle whose counter is not ahead of the last one
is skipped (``out_of_order_cycles``), and two such cycles in a row that follow each other resynchronise
the sequence (``counter_resyncs``) instead of discarding the sensor forever. A ``0x60A`` whose timestamp is
not a finite time between the epoch and 2100 is skipped with its cycle (``bad_timestamps``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from rsu_sdk import RadarObject, RadarScan

from rsu.sources.ars408 import layout as L
from rsu.sources.bounds import MAX_EVENT_NS, describe
from rsu.sources.sequence import CounterGuard

__all__ = ["CycleAssembler"]

_COUNTERS = (
    "frames", "cycles", "empty_cycles", "bad_frames", "unknown_ids", "error_frames", "orphan_frames",
    "duplicate_frames", "incomplete_cycles", "out_of_order_cycles", "skipped_frames", "state_frames",
    "bad_timestamps", "counter_resyncs", "decoder_errors",
)
_MAX_T_S = MAX_EVENT_NS / 1e9


@dataclass(slots=True)
class _Cycle:
    counter: int
    n: int
    t_ns: int
    general: dict[int, L.ObjGeneral] = field(default_factory=dict)
    quality: dict[int, L.ObjQuality] = field(default_factory=dict)
    extended: dict[int, L.ObjExtended] = field(default_factory=dict)


class CycleAssembler:
    """Feed frames in bus order; get :class:`RadarScan` values back. Never raises on bad input."""

    def __init__(self, source: str, *, expect_quality: bool = True, expect_extended: bool = True) -> None:
        self.source = source
        self.expect_quality = expect_quality
        self.expect_extended = expect_extended
        self.counts: dict[str, int] = dict.fromkeys(_COUNTERS, 0)
        self.last_state: L.RadarState | None = None
        self._cycle: _Cycle | None = None
        self._skipping = False
        self._counters = CounterGuard(65536)
        self.last_error: str | None = None

    # ------------------------------------------------------------------ input
    def feed(self, arbitration_id: int, data: bytes, timestamp_s: float, *, is_error: bool = False,
             is_extended_id: bool = False) -> RadarScan | None:
        """Take one frame; return a completed cycle or ``None``. Never raises."""
        self.counts["frames"] += 1
        try:
            return self._feed(arbitration_id, data, timestamp_s, is_error, is_extended_id)
        except Exception as exc:  # noqa: BLE001 - a frame that trips the decoder is counted, never raised
            self.counts["decoder_errors"] += 1
            self.last_error = f"{type(exc).__name__}: {exc}"
            return None

    def reset_sequence(self) -> None:
        """Forget the measurement counter (a new pass over a recording, a reconnected bus)."""
        self._counters.reset()

    def _feed(self, arbitration_id: int, data: bytes, timestamp_s: float, is_error: bool,
              is_extended_id: bool) -> RadarScan | None:
        if is_error:
            self.counts["error_frames"] += 1
            return None
        if is_extended_id:
            self.counts["unknown_ids"] += 1
            return None
        try:
            msg = L.decode_frame(arbitration_id, bytes(data))
        except L.FrameError:
            self.counts["bad_frames"] += 1
            return None
        if msg is None:
            self.counts["unknown_ids"] += 1
            return None
        if isinstance(msg, L.ObjStatus):
            ts = timestamp_s
            if isinstance(ts, bool) or not isinstance(ts, (int, float)) or not (
                    math.isfinite(ts) and 0 <= ts <= _MAX_T_S):
                self.counts["bad_timestamps"] += 1
                self.last_error = f"0x60A: timestamp {describe(ts)} is not a time"
                done = self._close()
                self._skipping = True
                return done
            return self._start(msg, int(round(ts * 1e6)) * 1000)  # CAN stamps: microseconds
        if isinstance(msg, L.RadarState):
            self.counts["state_frames"] += 1
            self.last_state = msg
            self.expect_quality, self.expect_extended = msg.send_quality, msg.send_ext_info
            return None
        return self._object_frame(msg)

    def flush(self) -> RadarScan | None:
        """Emit the open cycle if every object has its ``0x60B`` (end of input)."""
        return self._close()

    def stats(self) -> dict[str, int]:
        self.counts["out_of_order_cycles"] = self._counters.out_of_order
        self.counts["counter_resyncs"] = self._counters.resyncs
        return dict(self.counts)

    # ------------------------------------------------------------------ internals
    def _start(self, msg: L.ObjStatus, t_ns: int) -> RadarScan | None:
        done = self._close()
        if not self._counters.accept(msg.meas_counter):  # repeated or older than the last cycle
            self._skipping = True
            return done
        self._skipping = False
        self._cycle = _Cycle(msg.meas_counter, msg.nof_objects, t_ns)
        if msg.nof_objects == 0:
            return done if done is not None else self._close()
        return done

    def _object_frame(self, msg: L.ObjGeneral | L.ObjQuality | L.ObjExtended) -> RadarScan | None:
        cyc = self._cycle
        if cyc is None:
            self.counts["skipped_frames" if self._skipping else "orphan_frames"] += 1
            return None
        if isinstance(msg, L.ObjGeneral):
            table: dict = cyc.general
            if msg.object_id not in table and len(table) >= cyc.n:
                self.counts["orphan_frames"] += 1
                return None
        else:
            if msg.object_id not in cyc.general:
                self.counts["orphan_frames"] += 1
                return None
            table = cyc.quality if isinstance(msg, L.ObjQuality) else cyc.extended
        if msg.object_id in table:
            self.counts["duplicate_frames"] += 1
            return None
        table[msg.object_id] = msg
        if self._complete(cyc):
            return self._close()
        return None

    def _complete(self, cyc: _Cycle) -> bool:
        n = cyc.n
        return (len(cyc.general) == n and (not self.expect_quality or len(cyc.quality) == n)
                and (not self.expect_extended or len(cyc.extended) == n))

    def _close(self) -> RadarScan | None:
        cyc, self._cycle = self._cycle, None
        if cyc is None:
            return None
        if len(cyc.general) < cyc.n:
            self.counts["incomplete_cycles"] += 1
            return None
        objects = []
        for oid, g in cyc.general.items():
            q, x = cyc.quality.get(oid), cyc.extended.get(oid)
            objects.append(RadarObject(
                object_id=oid, dist_long=g.dist_long, dist_lat=g.dist_lat, vrel_long=g.vrel_long,
                vrel_lat=g.vrel_lat, rcs=g.rcs, dyn_prop=g.dyn_prop,
                class_name=x.class_name if x else "unknown", prob_exist=q.prob_exist if q else None,
                length=x.length if x else None, width=x.width if x else None,
                orientation_deg=x.orientation_deg if x else None,
            ))
        self.counts["cycles"] += 1
        if not objects:
            self.counts["empty_cycles"] += 1
        return RadarScan(source=self.source, t_event_ns=cyc.t_ns, cycle=cyc.counter, objects=tuple(objects))
