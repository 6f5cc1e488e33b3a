"""The DENM life cycle of TS 103 831 (originating side), driven by hazard transitions and event time.

- a raised hazard is a new event: a new actionId (this station, next sequence number), detectionTime and
  referenceTime now, sent at once;
- while it lasts: repeated every ``repetition_s`` (same bytes), and updated every ``update_s`` (same
  actionId, new detectionTime and referenceTime, the latest position) so that it never outlives its
  ``validity_s`` (counted from detectionTime) while the hazard is there;
- when it ends: a cancellation (same actionId, ``termination`` isCancellation), repeated every
  ``repetition_s`` for ``cancel_repeat_s``;
- a hazard still active when the plugin stops is cancelled at once.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from rsu_hazard_warning import codec
from rsu_hazard_warning.denm import CAUSE_CODES, Station, build_denm, its_timestamp_ms
from rsu_hazard_warning.triggers import NS, HazardState, Transition

__all__ = ["DenmLifecycle", "Transmission"]

Kind = Literal["new", "update", "repeat", "cancel"]


@dataclass(frozen=True, slots=True, kw_only=True)
class Transmission:
    """One DENM to send now, and what the published header says about it."""

    kind: Kind
    body: bytes
    t_event_ns: int
    state: HazardState
    action_seq: int
    station_id: int
    reference_time: int
    detection_time: int
    validity_s: int
    terminated: bool

    def header(self) -> dict[str, Any]:
        """The JSON header published with the body on ``v2x/denm``."""
        _, cause_code, sub = CAUSE_CODES[self.state.cause]
        o = self.state.obj
        return {
            "encoding": "denm-uper", "bytes": len(self.body), "station_id": self.station_id,
            "message_id": codec.DENM_MESSAGE_ID,
            "action_id": {"station_id": self.station_id, "sequence_number": self.action_seq},
            "transmission": self.kind, "terminated": self.terminated,
            "cause": self.state.cause, "cause_code": cause_code, "sub_cause_code": sub,
            "track_id": self.state.track_id, "class": o.class_name, "lane": self.state.lane,
            "event_position_enu": [round(v, 2) for v in o.position_enu],
            "reference_time": self.reference_time, "detection_time": self.detection_time,
            "validity_s": self.validity_s,
        }


@dataclass(slots=True, kw_only=True)
class _Event:
    seq: int
    state: HazardState
    detection_ns: int
    reference_ns: int
    last_sent_ns: int
    body: bytes
    kind: Kind
    cancel_until_ns: int | None = None


@dataclass(slots=True)
class DenmLifecycle:
    """Keeps every event this station originated and says what to send on each cycle."""

    station: Station
    repetition_s: float = 1.0
    update_s: float = 3.0
    validity_s: int = 10
    cancel_repeat_s: float = 3.0
    next_seq: int = 0
    events: dict[tuple[int, str], _Event] = field(default_factory=dict)
    cancelled: list[_Event] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(
        ("new", "update", "repeat", "cancel", "encode_errors"), 0))

    def _encode(self, ev: _Event, kind: Kind, t_ns: int) -> Transmission | None:
        value = build_denm(ev.state, station=self.station, kind="cancel" if kind == "cancel" else "new",
                           action_seq=ev.seq, detection_ns=ev.detection_ns, reference_ns=ev.reference_ns,
                           validity_s=self.validity_s, interval_ms=round(self.repetition_s * 1000))
        try:
            ev.body = codec.encode(value)
        except codec.DenmCodecError:
            self.counts["encode_errors"] += 1
            return None
        ev.kind, ev.last_sent_ns = kind, t_ns
        return self._transmission(ev, kind, t_ns)

    def _transmission(self, ev: _Event, kind: Kind, t_ns: int) -> Transmission:
        self.counts[kind] += 1
        ev.last_sent_ns = t_ns
        return Transmission(kind=kind, body=ev.body, t_event_ns=t_ns, state=ev.state, action_seq=ev.seq,
                            station_id=self.station.station_id, reference_time=its_timestamp_ms(ev.reference_ns),
                            detection_time=its_timestamp_ms(ev.detection_ns), validity_s=self.validity_s,
                            terminated=ev.cancel_until_ns is not None)

    def _cancel(self, ev: _Event, t_ns: int) -> Transmission | None:
        ev.detection_ns = ev.reference_ns = t_ns
        ev.cancel_until_ns = t_ns + int(self.cancel_repeat_s * NS)
        self.cancelled.append(ev)
        return self._encode(ev, "cancel", t_ns)

    def on_cycle(self, t_ns: int, transitions: list[Transition]) -> list[Transmission]:
        """Apply the cycle's transitions, then send what repetition and updates call for."""
        out: list[Transmission | None] = []
        for tr in transitions:
            key = (tr.state.track_id, tr.state.cause)
            if tr.kind == "raise":
                ev = _Event(seq=self.next_seq, state=tr.state, detection_ns=t_ns, reference_ns=t_ns,
                            last_sent_ns=t_ns, body=b"", kind="new")
                self.next_seq = (self.next_seq + 1) % 65536
                self.events[key] = ev
                out.append(self._encode(ev, "new", t_ns))
            elif key in self.events:
                ev = self.events[key]
                ev.state = tr.state
                if tr.kind == "end":
                    del self.events[key]
                    out.append(self._cancel(ev, t_ns))
        sent = {id(t.state) for t in out if t is not None}
        for ev in self.events.values():
            if id(ev.state) in sent:
                continue
            if t_ns - ev.reference_ns >= int(self.update_s * NS):
                ev.detection_ns = ev.reference_ns = t_ns
                out.append(self._encode(ev, "update", t_ns))
            elif t_ns - ev.last_sent_ns >= int(self.repetition_s * NS):
                out.append(self._transmission(ev, "repeat", t_ns))
        for ev in list(self.cancelled):
            if id(ev.state) in sent:
                continue
            if ev.cancel_until_ns is not None and t_ns >= ev.cancel_until_ns:
                self.cancelled.remove(ev)
            elif t_ns - ev.last_sent_ns >= int(self.repetition_s * NS):
                out.append(self._transmission(ev, "repeat", t_ns))
        return [t for t in out if t is not None]

    def stop(self, t_ns: int) -> list[Transmission]:
        """Cancel every event still active (the box stops watching)."""
        out = [self._cancel(ev, t_ns) for ev in list(self.events.values())]
        self.events.clear()
        return [t for t in out if t is not None]
