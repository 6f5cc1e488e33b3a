"""Replay a recording of ``rsu simulate`` (or of a real box): camera detections from ``camera.jsonl`` and
radar cycles decoded from the recorded CAN log by the real ARS408 decoder, in event-time order,
optionally paced at real time.

Every record is checked: a camera line that is not a detections record, a CAN record that is not a frame,
or an event time that does not fit the recording's timeline is counted and skipped
(:mod:`rsu.sources.timeline`), and the replay goes on. Published event times are never ahead of the box
clock: with ``rebase_time`` a replay faster than real time compresses its timeline onto the wall clock.
"""

from __future__ import annotations

import dataclasses
import heapq
import logging
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any

import yaml

from rsu_sdk import Detections, Product, RadarScan

from rsu.fusion.serde import detections_from_dict
from rsu.sources.ars408.assembler import CycleAssembler
from rsu.sources.bounds import MAX_EVENT_NS, InputRangeError, bounded_int, load_json_object
from rsu.sources.canlog import iter_can_log
from rsu.sources.timeline import DEFAULT_MAX_GAP_S, ReplayTimeline

__all__ = ["ReplaySource", "iter_camera", "iter_radar", "iter_products", "recording_info", "parse_camera_line"]

log = logging.getLogger(__name__)
MAX_CAMERA_LINE = 4 << 20
MAX_DETECTIONS = 10_000


def recording_info(path: Path | str) -> dict[str, Any]:
    """The recording's ``scenario.yaml`` (empty when absent or not a YAML mapping)."""
    f = Path(path) / "scenario.yaml"
    if not f.exists():
        return {}
    try:
        doc = yaml.safe_load(f.read_text(encoding="utf-8"))
    except (yaml.YAMLError, UnicodeDecodeError, OSError) as exc:
        log.warning("%s: ignored: %s", f, exc)
        return {}
    return doc if isinstance(doc, dict) else {}


def parse_camera_line(line: str | bytes) -> Detections:
    """One ``camera.jsonl`` line; :class:`InputRangeError` (a ``ValueError``) names what is wrong."""
    doc = load_json_object(line, max_bytes=MAX_CAMERA_LINE)
    bounded_int(doc.get("t_event"), "t_event", 0, MAX_EVENT_NS)
    bounded_int(doc.get("frame_id"), "frame_id", 0, 2**63 - 1)
    for key in ("xyxy", "confidence", "class_id"):
        if not isinstance(doc.get(key), list) or len(doc[key]) > MAX_DETECTIONS:
            raise InputRangeError(f"{key}: expected a list of at most {MAX_DETECTIONS}")
    try:
        return detections_from_dict(doc)
    except Exception as exc:  # noqa: BLE001 - whatever the record trips is a bad record
        raise InputRangeError(f"not a detections record: {type(exc).__name__}: {exc}") from None


def _lines(fh: IO[str], limit: int, counts: dict[str, int] | None) -> Iterator[str]:
    while line := fh.readline(limit + 1):
        if len(line) > limit and not line.endswith("\n"):
            while (rest := fh.readline(1 << 20)) and not rest.endswith("\n"):
                pass
            _count(counts, "bad_lines")
            continue
        yield line


def _count(counts: dict[str, int] | None, key: str) -> None:
    if counts is not None:
        counts[key] = counts.get(key, 0) + 1


def iter_camera(path: Path | str, counts: dict[str, int] | None = None) -> Iterator[Detections]:
    """Detections of ``camera.jsonl``; bad lines are counted (``bad_lines``) and skipped."""
    f = Path(path) / "camera.jsonl"
    if not f.exists():
        return
    with open(f, encoding="utf-8", errors="replace") as fh:
        for line in _lines(fh, MAX_CAMERA_LINE, counts):
            if not line.strip():
                continue
            try:
                yield parse_camera_line(line)
            except ValueError as exc:
                _count(counts, "bad_lines")
                if counts is not None and counts["bad_lines"] <= 5:
                    log.warning("%s: %s (skipped)", f, exc)


def _radar_log(path: Path) -> Path | None:
    for name in ("radar.log.gz", "radar.log", "radar.asc", "radar.blf"):
        if (path / name).exists():
            return path / name
    return None


def iter_radar(path: Path | str, source: str | None = None, assembler: CycleAssembler | None = None,
               counts: dict[str, int] | None = None) -> Iterator[RadarScan]:
    """Radar cycles of the recorded CAN log, through :class:`CycleAssembler` (frame counters on the assembler,
    record counters ``records``, ``bad_records``, ``log_errors`` in ``counts``)."""
    path = Path(path)
    f = _radar_log(path)
    if f is None:
        return
    if assembler is None:
        radar = recording_info(path).get("radar")
        rid = source or (radar.get("id") if isinstance(radar, dict) else None) or "radar"
        assembler = CycleAssembler(str(rid))
    for msg in iter_can_log(f, counts):
        scan = assembler.feed(msg.arbitration_id, msg.data, msg.timestamp, is_error=msg.is_error_frame,
                              is_extended_id=msg.is_extended_id)
        if scan is not None:
            yield scan
    last = assembler.flush()
    if last is not None:
        yield last


def iter_products(path: Path | str, *, camera: bool = True, radar: bool = True,
                  assembler: CycleAssembler | None = None, counts: dict[str, int] | None = None,
                  timeline: ReplayTimeline | None = None) -> Iterator[Detections | RadarScan]:
    """Camera detections and radar cycles merged in event-time order (no pacing).

    Each stream goes through its own timeline filter (``timeline``'s settings; counters merged into it) so
    the merge sees ordered streams whatever the file holds.
    """
    streams: list[Iterator[Detections | RadarScan]] = []
    proto = timeline or ReplayTimeline(speed=0, rebase=False)
    for on, stream in ((camera, lambda: iter_camera(path, counts)),
                       (radar, lambda: iter_radar(path, assembler=assembler, counts=counts))):
        if on:
            filt = ReplayTimeline(speed=0, rebase=False, max_gap_s=proto.max_gap_ns / 1e9,
                                  resync_after=proto.resync_after)
            filt.counts = proto.counts  # one set of counters per source
            streams.append(filt.filter(stream(), lambda p: p.t_event_ns))
    yield from heapq.merge(*streams, key=lambda p: p.t_event_ns)


class ReplaySource:
    """A source over a recording folder: ``speed`` 1.0 = real time, 0 = as fast as possible.

    :param wall_ns: the box clock; :param monotonic: the pacing clock (seconds); both injectable for tests.
    """

    def __init__(self, id: str, path: Path | str, *, speed: float = 1.0, camera: bool = True, radar: bool = True,
                 rebase_time: bool = False, loop: bool = False, max_gap_s: float = DEFAULT_MAX_GAP_S,
                 wall_ns: Callable[[], int] = time.time_ns, monotonic: Callable[[], float] = time.monotonic) -> None:
        self.id, self.path, self.speed = id, Path(path), speed
        self.camera, self.radar, self.rebase_time, self.loop = camera, radar, rebase_time, loop
        radar_info = recording_info(self.path).get("radar")
        rid = radar_info.get("id") if isinstance(radar_info, dict) else None
        self.assembler = CycleAssembler(str(rid or f"{id}.radar"))
        self.timeline = ReplayTimeline(speed=speed, rebase=rebase_time, max_gap_s=max_gap_s, wall_ns=wall_ns,
                                       monotonic=monotonic)
        self.counts: dict[str, int] = {"detections": 0, "radar_scans": 0, "passes": 0, "bad_lines": 0,
                                       "records": 0, "bad_records": 0, "log_errors": 0}
        self._monotonic = monotonic

    @classmethod
    def from_config(cls, cfg: Any) -> ReplaySource:
        return cls(cfg.id, cfg.path, speed=cfg.speed, camera=cfg.camera, radar=cfg.radar,
                   rebase_time=cfg.rebase_time, loop=cfg.loop,
                   max_gap_s=getattr(cfg, "max_gap_s", DEFAULT_MAX_GAP_S))

    def run(self, emit: Callable[[Product], None], stop: threading.Event) -> None:
        """Emit every product of the recording (again and again with ``loop``); returns at the end."""
        tl = self.timeline
        while not stop.is_set():
            tl.begin_pass()
            self.assembler.reset_sequence()
            n = 0
            for p in iter_products(self.path, camera=self.camera, radar=self.radar, assembler=self.assembler,
                                   counts=self.counts, timeline=tl):
                if stop.is_set():
                    return
                if not tl.admit(p.t_event_ns):
                    continue
                due = tl.due(p.t_event_ns)
                if due is not None:
                    wait = due - self._monotonic()
                    if wait > 0 and stop.wait(wait):
                        return
                p = dataclasses.replace(p, t_event_ns=tl.stamp(p.t_event_ns))
                self.counts["detections" if isinstance(p, Detections) else "radar_scans"] += 1
                n += 1
                emit(p)
            self.counts["passes"] += 1
            if not self.loop or n == 0:
                return

    def stats(self) -> dict[str, Any]:
        return {**self.counts, **self.timeline.stats(),
                **{f"radar_{k}": v for k, v in self.assembler.stats().items()}}
