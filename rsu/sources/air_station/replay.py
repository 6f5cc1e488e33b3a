"""Replay a recording of air-station messages (``readings.jsonl``, one JSON message per line).

Paced by the recorded event times divided by ``speed`` (0 = as fast as possible); with ``loop`` the
recording starts again with event times shifted past its end, so event time keeps increasing;
``rebase_time`` publishes the recording as if it started now, compressed onto the box clock (a 20x replay
publishes 20 recorded seconds per wall second), so no published event time is ahead of the box clock.
Bad lines and times that do not fit the timeline are counted and skipped (:mod:`rsu.sources.timeline`).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

from rsu_sdk import Product, SensorReading

from rsu.config.air_station import AirStationReplayConfig
from rsu.sources.air_station.common import InputState
from rsu.sources.air_station.message import MAX_MESSAGE, MessageError, parse_message
from rsu.sources.timeline import DEFAULT_MAX_GAP_S, ReplayTimeline

__all__ = ["READINGS_FILE", "load_recording", "run_replay", "timeline_for"]

READINGS_FILE = "readings.jsonl"
MAX_READINGS = 5_000_000


def timeline_for(cfg: AirStationReplayConfig, wall_ns: Callable[[], int] = time.time_ns,
                 monotonic: Callable[[], float] = time.monotonic) -> ReplayTimeline:
    """The timeline of a replay with these settings (injectable clocks for tests)."""
    return ReplayTimeline(speed=cfg.speed, rebase=cfg.rebase_time, wall_ns=wall_ns, monotonic=monotonic,
                          max_gap_s=getattr(cfg, "max_gap_s", DEFAULT_MAX_GAP_S))


def load_recording(path: Path, state: InputState, station: str) -> list[SensorReading]:
    """Parse every line (bad ones counted and skipped), sorted by event time."""
    file = path / READINGS_FILE if path.is_dir() else path
    out: list[SensorReading] = []
    with file.open("r", encoding="utf-8", errors="replace") as fh:
        lineno = 0
        while line := fh.readline(MAX_MESSAGE + 1):
            lineno += 1
            if len(line) > MAX_MESSAGE and not line.endswith("\n"):
                while (rest := fh.readline(MAX_MESSAGE)) and not rest.endswith("\n"):
                    pass
                state.counts["received"] += 1
                state.bad(f"{file.name}:{lineno}: line longer than {MAX_MESSAGE} bytes")
                continue
            if not line.strip():
                continue
            state.counts["received"] += 1
            try:
                out.append(parse_message(line, source=state.source_id, default_station=station, received_ns=0))
            except MessageError as exc:
                state.bad(f"{file.name}:{lineno}: {exc}")
            if len(out) >= MAX_READINGS:
                state.bad(f"{file.name}: more than {MAX_READINGS} readings; the rest is ignored")
                break
    out.sort(key=lambda r: r.t_event_ns)
    return out


def run_replay(cfg: AirStationReplayConfig, state: InputState, station: str,
               emit: Callable[[Product], None], stop: threading.Event, timeline: ReplayTimeline | None = None) -> None:
    """Emit the recording until its end (or ``stop``); a missing file is a ``down`` health event."""
    tl = timeline or timeline_for(cfg)
    try:
        readings = load_recording(Path(cfg.path), state, station)
    except OSError as exc:
        state.lost(emit, f"cannot read recording {cfg.path}: {exc}")
        return
    if not readings:
        state.lost(emit, f"recording {cfg.path} holds no valid reading")
        return
    state.alive(emit)
    while not stop.is_set():
        tl.begin_pass()
        for r in tl.filter(readings, lambda r: r.t_event_ns):
            due = tl.due(r.t_event_ns)
            if due is not None:
                if stop.wait(max(0.0, due - tl.monotonic())):
                    return
            elif stop.is_set():
                return
            state.counts["readings"] += 1
            emit(replace(r, t_event_ns=tl.stamp(r.t_event_ns)))
        if not cfg.loop:
            return
