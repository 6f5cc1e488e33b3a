"""Replay recorded plant readings (``rsu simulate furnace`` writes them) as :class:`SensorReading` values.

Formats, by file suffix: ``.csv`` with columns ``t_event_ns, device`` and one column per channel, or
``.jsonl`` with one ``{"t_event_ns": ..., "device": ..., "values": {...}}`` object per line. A folder means
its ``readings.csv``. Rows must be in event order; a bad row is counted (``bad_rows``) and skipped. Pacing
follows the event times divided by ``speed`` (0 = as fast as the box takes them).
"""

from __future__ import annotations

import csv
import json
import logging
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from rsu_sdk import InvalidDataError, Product, SensorReading

__all__ = ["SensorReplaySource", "iter_readings", "resolve_path"]

log = logging.getLogger(__name__)


def resolve_path(path: Path | str) -> Path:
    p = Path(path)
    return p / "readings.csv" if p.is_dir() else p


def _csv_rows(fh: Any, source: str, counts: dict[str, int]) -> Iterator[SensorReading]:
    reader = csv.reader(fh)
    header = next(reader, None)
    if not header or header[:2] != ["t_event_ns", "device"] or len(header) < 3:
        raise ValueError(f"expected a header 't_event_ns,device,<channel>...', got {header!r}")
    channels = header[2:]
    for row in reader:
        try:
            if len(row) != len(header):
                raise ValueError(f"{len(row)} columns, expected {len(header)}")
            yield SensorReading(source=source, t_event_ns=int(row[0]), device=row[1],
                                values={c: float(v) for c, v in zip(channels, row[2:])})
        except (ValueError, InvalidDataError) as exc:
            counts["bad_rows"] += 1
            if counts["bad_rows"] <= 5:
                log.warning("%s line %d: %s (skipped)", source, reader.line_num, exc)


def _jsonl_rows(fh: Any, source: str, counts: dict[str, int]) -> Iterator[SensorReading]:
    for n, line in enumerate(fh, start=1):
        if not line.strip():
            continue
        try:
            d = json.loads(line)
            yield SensorReading(source=source, t_event_ns=int(d["t_event_ns"]), device=str(d["device"]),
                                values=d["values"], units=d.get("units") or {})
        except (ValueError, KeyError, TypeError, AttributeError, InvalidDataError) as exc:
            counts["bad_rows"] += 1
            if counts["bad_rows"] <= 5:
                log.warning("%s line %d: %s (skipped)", source, n, exc)


def iter_readings(path: Path | str, source: str = "replay", counts: dict[str, int] | None = None
                  ) -> Iterator[SensorReading]:
    """Every good reading of a CSV or JSONL recording, in file order."""
    counts = counts if counts is not None else {}
    counts.setdefault("bad_rows", 0)
    f = resolve_path(path)
    with open(f, encoding="utf-8", newline="") as fh:
        if f.suffix == ".jsonl":
            yield from _jsonl_rows(fh, source, counts)
        else:
            yield from _csv_rows(fh, source, counts)


class SensorReplaySource:
    """Source API: ``id``, ``run(emit, stop)`` (blocks; never raises), ``stats()``.

    :param speed: 1.0 = real time, 2.0 = twice as fast, 0 = no pacing.
    :param rebase_time: shift event times so that the recording starts now.
    """

    def __init__(self, id: str, path: Path | str, *, speed: float = 1.0, rebase_time: bool = False,
                 loop: bool = False) -> None:
        self.id = id
        self.path = resolve_path(path)
        self.speed = float(speed)
        self.rebase_time = rebase_time
        self.loop = loop
        self.counts: dict[str, int] = {"readings": 0, "bad_rows": 0, "passes": 0}
        self.error: str | None = None

    def run(self, emit: Callable[[Product], None], stop: threading.Event) -> None:
        try:
            while not stop.is_set():
                self._one_pass(emit, stop)
                self.counts["passes"] += 1
                if not self.loop:
                    return
        except (OSError, ValueError) as exc:
            self.error = f"{self.path}: {exc}"
            log.error("source %s: cannot replay %s", self.id, self.error)

    def _one_pass(self, emit: Callable[[Product], None], stop: threading.Event) -> None:
        first_ns: int | None = None
        wall0 = time.monotonic()
        shift = 0
        for r in iter_readings(self.path, self.id, self.counts):
            if stop.is_set():
                return
            if first_ns is None:
                first_ns = r.t_event_ns
                shift = time.time_ns() - first_ns if self.rebase_time else 0
            if self.speed > 0:
                due = wall0 + (r.t_event_ns - first_ns) / 1e9 / self.speed
                delay = due - time.monotonic()
                if delay > 0 and stop.wait(delay):
                    return
            if shift:
                r = SensorReading(source=r.source, t_event_ns=r.t_event_ns + shift, device=r.device,
                                  values=r.values, units=r.units)
            emit(r)
            self.counts["readings"] += 1

    def stats(self) -> dict[str, Any]:
        return {"type": "sensor_replay", "path": str(self.path), **self.counts, "error": self.error}
