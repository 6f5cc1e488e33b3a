"""Replay a recording of ``rsu simulate`` (or of a real box): camera detections from ``camera.jsonl`` and
radar cycles decoded from the recorded CAN log by the real ARS408 decoder, in event-time order,
optionally paced at real time."""

from __future__ import annotations

import heapq
import json
import logging
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import yaml

from rsu_sdk import Detections, InvalidDataError, Product, RadarScan

from rsu.fusion.serde import detections_from_dict
from rsu.sources.ars408.assembler import CycleAssembler

__all__ = ["ReplaySource", "iter_camera", "iter_radar", "iter_products", "recording_info"]

log = logging.getLogger(__name__)


def recording_info(path: Path | str) -> dict[str, Any]:
    """The recording's ``scenario.yaml`` (empty when absent)."""
    f = Path(path) / "scenario.yaml"
    return yaml.safe_load(f.read_text()) if f.exists() else {}


def iter_camera(path: Path | str, counts: dict[str, int] | None = None) -> Iterator[Detections]:
    """Detections of ``camera.jsonl``; bad lines are counted (``bad_lines``) and skipped."""
    f = Path(path) / "camera.jsonl"
    if not f.exists():
        return
    with open(f, encoding="utf-8") as fh:
        for line in fh:
            if not line.strip():
                continue
            try:
                yield detections_from_dict(json.loads(line))
            except (ValueError, KeyError, TypeError, InvalidDataError):
                if counts is not None:
                    counts["bad_lines"] = counts.get("bad_lines", 0) + 1


def _radar_log(path: Path) -> Path | None:
    for name in ("radar.log.gz", "radar.log", "radar.asc", "radar.blf"):
        if (path / name).exists():
            return path / name
    return None


def iter_radar(path: Path | str, source: str | None = None, assembler: CycleAssembler | None = None
               ) -> Iterator[RadarScan]:
    """Radar cycles of the recorded CAN log, through :class:`CycleAssembler` (counters on the assembler)."""
    import can

    path = Path(path)
    f = _radar_log(path)
    if f is None:
        return
    if assembler is None:
        rid = source or recording_info(path).get("radar", {}).get("id", "radar")
        assembler = CycleAssembler(rid)
    for msg in can.LogReader(str(f)):
        scan = assembler.feed(msg.arbitration_id, msg.data, msg.timestamp, is_error=msg.is_error_frame,
                              is_extended_id=msg.is_extended_id)
        if scan is not None:
            yield scan
    last = assembler.flush()
    if last is not None:
        yield last


def iter_products(path: Path | str, *, camera: bool = True, radar: bool = True,
                  assembler: CycleAssembler | None = None, counts: dict[str, int] | None = None
                  ) -> Iterator[Detections | RadarScan]:
    """Camera detections and radar cycles merged in event-time order (no pacing)."""
    streams: list[Iterator[Detections | RadarScan]] = []
    if camera:
        streams.append(iter_camera(path, counts))
    if radar:
        streams.append(iter_radar(path, assembler=assembler))
    yield from heapq.merge(*streams, key=lambda p: p.t_event_ns)


class ReplaySource:
    """A source over a recording folder: ``speed`` 1.0 = real time, 0 = as fast as possible."""

    def __init__(self, id: str, path: Path | str, *, speed: float = 1.0, camera: bool = True, radar: bool = True,
                 rebase_time: bool = False, loop: bool = False) -> None:
        self.id, self.path, self.speed = id, Path(path), speed
        self.camera, self.radar, self.rebase_time, self.loop = camera, radar, rebase_time, loop
        info = recording_info(self.path)
        self.assembler = CycleAssembler(info.get("radar", {}).get("id", f"{id}.radar"))
        self.counts: dict[str, int] = {"detections": 0, "radar_scans": 0, "passes": 0, "bad_lines": 0}

    @classmethod
    def from_config(cls, cfg: Any) -> ReplaySource:
        return cls(cfg.id, cfg.path, speed=cfg.speed, camera=cfg.camera, radar=cfg.radar,
                   rebase_time=cfg.rebase_time, loop=cfg.loop)

    def run(self, emit: Callable[[Product], None], stop: threading.Event) -> None:
        """Emit every product of the recording (again and again with ``loop``); returns at the end."""
        import dataclasses

        shift = 0
        while not stop.is_set():
            start_wall, first_t, last_t = time.monotonic(), None, 0
            for p in iter_products(self.path, camera=self.camera, radar=self.radar, assembler=self.assembler,
                                   counts=self.counts):
                if stop.is_set():
                    return
                if first_t is None:
                    first_t = p.t_event_ns
                    if self.rebase_time:
                        shift = time.time_ns() - first_t
                if self.speed > 0:
                    due = start_wall + (p.t_event_ns - first_t) / 1e9 / self.speed
                    wait = due - time.monotonic()
                    if wait > 0 and stop.wait(wait):
                        return
                last_t = p.t_event_ns
                if shift:
                    p = dataclasses.replace(p, t_event_ns=p.t_event_ns + shift)
                self.counts["detections" if isinstance(p, Detections) else "radar_scans"] += 1
                emit(p)
            self.counts["passes"] += 1
            if not self.loop or first_t is None:
                return
            if not self.rebase_time:  # later passes continue in event time
                shift += last_t - first_t + 100_000_000

    def stats(self) -> dict[str, Any]:
        return {**self.counts, **{f"radar_{k}": v for k, v in self.assembler.stats().items()}}
