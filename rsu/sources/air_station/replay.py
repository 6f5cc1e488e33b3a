"""Replay a recording of air-station messages (``readings.jsonl``, one JSON message per line).

Paced by the recorded event times divided by ``speed`` (0 = as fast as possible); with ``loop`` the
recording starts again with event times shifted past its end, so event time keeps increasing;
``rebase_time`` shifts all event times so that the recording starts now.
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
from rsu.sources.air_station.message import MessageError, parse_message

__all__ = ["READINGS_FILE", "load_recording", "run_replay"]

READINGS_FILE = "readings.jsonl"


def load_recording(path: Path, state: InputState, station: str) -> list[SensorReading]:
    """Parse every line (bad ones counted and skipped), sorted by event time."""
    file = path / READINGS_FILE if path.is_dir() else path
    out: list[SensorReading] = []
    with file.open("r", encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, 1):
            if not line.strip():
                continue
            state.counts["received"] += 1
            try:
                out.append(parse_message(line, source=state.source_id, default_station=station, received_ns=0))
            except MessageError as exc:
                state.bad(f"{file.name}:{lineno}: {exc}")
    out.sort(key=lambda r: r.t_event_ns)
    return out


def run_replay(cfg: AirStationReplayConfig, state: InputState, station: str,
               emit: Callable[[Product], None], stop: threading.Event) -> None:
    """Emit the recording until its end (or ``stop``); a missing file is a ``down`` health event."""
    try:
        readings = load_recording(Path(cfg.path), state, station)
    except OSError as exc:
        state.lost(emit, f"cannot read recording {cfg.path}: {exc}")
        return
    if not readings:
        state.lost(emit, f"recording {cfg.path} holds no valid reading")
        return
    state.alive(emit)
    span = readings[-1].t_event_ns - readings[0].t_event_ns
    period = span + (span // max(1, len(readings) - 1) if len(readings) > 1 else 1_000_000_000)
    shift = time.time_ns() - readings[0].t_event_ns if cfg.rebase_time else 0
    while not stop.is_set():
        wall0, t0 = time.monotonic(), readings[0].t_event_ns
        for r in readings:
            if cfg.speed > 0:
                due = wall0 + (r.t_event_ns - t0) / 1e9 / cfg.speed
                if stop.wait(max(0.0, due - time.monotonic())):
                    return
            elif stop.is_set():
                return
            state.counts["readings"] += 1
            emit(replace(r, t_event_ns=r.t_event_ns + shift) if shift else r)
        if not cfg.loop:
            return
        shift += period
