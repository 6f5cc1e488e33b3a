"""The CPM generation loop, free of any I/O: fused-object cycles in, encoded CPMs out.

Per fused-object cycle: check whether a generation event is due (adaptive interval), pick the objects
the inclusion rules ask for, build and encode the CPM, and split it into segments when it exceeds
``max_bytes``. Nothing here raises on values: numbers are clamped by the builder; an encoding failure
(a bug) is counted and the cycle skipped.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from rsu_sdk import FusedObject, ObjectList

from rsu_traffic_broadcast import codec
from rsu_traffic_broadcast.cpm_builder import SensorRegistry, Station, build_cpm, perceived_object
from rsu_traffic_broadcast.inclusion import (
    T_GEN_MAX_NS,
    GenerationClock,
    InclusionRules,
    ObjectSelector,
    RatePolicy,
    split_segments,
)
from rsu_traffic_broadcast.quantize import its_timestamp_ms

__all__ = ["EncodedCpm", "CpmGenerator", "SENSOR_INFO_INTERVAL_NS"]

log = logging.getLogger(__name__)

SENSOR_INFO_INTERVAL_NS = 1_000_000_000
"""The sensor information container goes out at most once per second (TS 103 324)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class EncodedCpm:
    """One encoded CPM and what the published header says about it."""

    body: bytes
    t_event_ns: int
    reference_time: int
    objects: tuple[int, ...]
    segment: tuple[int, int] | None
    sensor_information: bool

    def header(self, station_id: int) -> dict[str, Any]:
        """The JSON header published with the body (schema ``rsu.v2x.cpm/1`` plus these keys)."""
        return {
            "encoding": "cpm-uper",
            "bytes": len(self.body),
            "objects": len(self.objects),
            "object_ids": list(self.objects),
            "station_id": station_id,
            "message_id": codec.CPM_MESSAGE_ID,
            "reference_time": self.reference_time,
            "generation_delta_time": self.reference_time % 65536,
            "segment": list(self.segment) if self.segment else [1, 1],
            "sensor_information": self.sensor_information,
        }


class CpmGenerator:
    """Turns :class:`~rsu_sdk.types.ObjectList` cycles into CPMs following the standard's rules."""

    def __init__(
        self,
        station: Station,
        *,
        sensors: SensorRegistry | None = None,
        rules: InclusionRules | None = None,
        rate: RatePolicy | None = None,
        max_bytes: int = 1100,
        include_tentative: bool = False,
    ) -> None:
        self.station = station
        self.sensors = sensors or SensorRegistry()
        self.selector = ObjectSelector(rules)
        self.clock = GenerationClock(rate)
        self.max_bytes = max_bytes
        self.include_tentative = include_tentative
        self.last_sensor_info_ns: int | None = None
        self.counts = {"cycles": 0, "events": 0, "messages": 0, "objects_sent": 0, "deferred": 0,
                       "oversize": 0, "encode_errors": 0}

    def tracked(self, objects: ObjectList) -> list[FusedObject]:
        """The objects that may go into a CPM (confirmed tracks, and tentative ones when configured)."""
        return [o for o in objects.objects
                if o.state == "confirmed" or (self.include_tentative and o.state == "tentative")]

    def on_objects(self, objects: ObjectList) -> list[EncodedCpm]:
        """Process one fusion cycle; return the CPMs to send now (often none)."""
        self.counts["cycles"] += 1
        t = objects.t_event_ns
        tracked = self.tracked(objects)
        if not self.clock.due(t, len(tracked)):
            return []
        since = self.clock.since_last_ns(t)
        selected = self.selector.select(tracked, t)
        if not selected and since is not None and since < T_GEN_MAX_NS:
            return []
        sensor_info = self.last_sensor_info_ns is None or t - self.last_sensor_info_ns >= SENSOR_INFO_INTERVAL_NS
        # nothing tracked -> an empty perceived object container says "nothing perceived";
        # tracked but none due (1 s keep-alive) -> no perceived object container at all
        chosen: list[FusedObject] | None = selected if selected or not tracked else None
        try:
            messages = self._encode(chosen, t, sensor_info)
        except codec.CpmCodecError as exc:
            self.counts["encode_errors"] += 1
            log.error("CPM encoding failed (cycle skipped): %s", exc)
            return []
        sent_ids = {i for m in messages for i in m.objects}
        sent = [o for o in (chosen or ()) if o.track_id in sent_ids]
        self.selector.mark_sent(sent, t)
        self.clock.generated(t)
        if sensor_info and any(m.sensor_information for m in messages):
            self.last_sensor_info_ns = t
        self.counts["events"] += 1
        self.counts["messages"] += len(messages)
        self.counts["objects_sent"] += len(sent)
        self.counts["deferred"] += len(chosen or ()) - len(sent)
        self.counts["oversize"] += sum(len(m.body) > self.max_bytes for m in messages)
        return messages

    def _encode(self, chosen: Sequence[FusedObject] | None, t: int, sensor_info: bool) -> list[EncodedCpm]:
        ref = its_timestamp_ms(t)
        objs = list(chosen[:255]) if chosen is not None else None
        prebuilt = {o.track_id: perceived_object(o, delta_ms=0.0, sensors=self.sensors) for o in objs or ()}
        has_info = sensor_info and bool(self.sensors.entries())

        def build(a: int, b: int, segment: tuple[int, int] | None) -> bytes:
            part = objs[a:b] if objs is not None else None
            value = build_cpm(part, station=self.station, reference_ns=t, sensors=self.sensors,
                              sensor_information=has_info and a == 0, segment=segment, prebuilt=prebuilt)
            return codec.encode(value)

        def message(body: bytes, a: int, b: int, segment: tuple[int, int] | None) -> EncodedCpm:
            ids = tuple(o.track_id for o in objs[a:b]) if objs is not None else ()
            return EncodedCpm(body=body, t_event_ns=t, reference_time=ref, objects=ids, segment=segment,
                              sensor_information=has_info and a == 0)

        n = len(objs) if objs is not None else 0
        full = build(0, n, None)
        if len(full) <= self.max_bytes or n <= 1:
            return [message(full, 0, n, None)]
        ranges = split_segments(n, lambda a, b: len(build(a, b, (1, 8))), self.max_bytes)
        total = len(ranges)
        return [message(build(a, b, (i + 1, total)), a, b, (i + 1, total)) for i, (a, b) in enumerate(ranges)]
