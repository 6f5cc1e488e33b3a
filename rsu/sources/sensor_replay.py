"""Replay recorded plant readings (``rsu simulate furnace`` writes them) as :class:`SensorReading` values.

Formats, by file suffix: ``.csv`` with columns ``t_event_ns, device`` and one column per channel, or
``.jsonl`` with one ``{"t_event_ns": ..., "device": ..., "values": {...}}`` object per line. A folder means
its ``readings.csv``. Rows must be in event order; a bad row (bad time, device id, channel name or value) is
counted (``bad_rows``) and skipped, and so is a time that does not fit the timeline
(:mod:`rsu.sources.timeline`). Pacing follows the event times divided by ``speed`` (0 = as fast as the box
takes them); with ``rebase_time`` the timeline is compressed onto the box clock, so no published event time
is ahead of it.
"""

from __future__ import annotations

import csv
import logging
import math
import re
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

from rsu_sdk import Product, SensorReading

from rsu.sources.bounds import MAX_EVENT_NS, InputRangeError, bounded_int, load_json_object
from rsu.sources.timeline import DEFAULT_MAX_GAP_S, ReplayTimeline

__all__ = ["SensorReplaySource", "iter_readings", "parse_reading", "resolve_path"]

log = logging.getLogger(__name__)
MAX_LINE = 1 << 16
MAX_CHANNELS = 256
MAX_ABS_VALUE = 1e12
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$")
csv.field_size_limit(MAX_LINE)


def resolve_path(path: Path | str) -> Path:
    p = Path(path)
    return p / "readings.csv" if p.is_dir() else p


def _name(value: Any, where: str) -> str:
    if not isinstance(value, str) or not _NAME.match(value):
        raise InputRangeError(f"{where}: expected an id of 1-64 letters, digits, '_.:-', got {value!r:.80}")
    return value


def _value(value: Any, where: str) -> float:
    if isinstance(value, str):
        try:
            value = float(value)
        except ValueError:
            raise InputRangeError(f"{where}: not a number: {value!r:.40}") from None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or (
            isinstance(value, int) and abs(value) > MAX_ABS_VALUE):
        raise InputRangeError(f"{where}: expected a number within +-{MAX_ABS_VALUE:g}, got {value!r:.40}")
    if not (math.isfinite(value) and abs(value) <= MAX_ABS_VALUE):
        raise InputRangeError(f"{where}: expected a finite number within +-{MAX_ABS_VALUE:g}, got {value!r:.40}")
    return float(value)


def parse_reading(source: str, t_event: Any, device: Any, values: Any, units: Any = None) -> SensorReading:
    """A range-checked reading; :class:`InputRangeError` names the bad field."""
    if isinstance(t_event, str):
        t_event = int(t_event) if t_event.isdigit() and len(t_event) <= 19 else t_event
    t = bounded_int(t_event, "t_event_ns", 0, MAX_EVENT_NS)
    if not isinstance(values, Mapping) or not 0 < len(values) <= MAX_CHANNELS:
        raise InputRangeError(f"values: expected 1-{MAX_CHANNELS} channels")
    vals = {_name(k, "values"): _value(v, f"values.{k}") for k, v in values.items()}
    units = units or {}
    if not isinstance(units, Mapping) or not all(isinstance(u, str) and len(u) <= 32 for u in units.values()):
        raise InputRangeError("units: expected channel -> unit string (<= 32 characters)")
    return SensorReading(source=source, t_event_ns=t, device=_name(device, "device"), values=vals,
                         units={_name(k, "units"): v for k, v in units.items()})


def _warn(source: str, counts: dict[str, int], where: Any, exc: Exception) -> None:
    counts["bad_rows"] += 1
    if counts["bad_rows"] <= 5:
        log.warning("%s line %s: %s (skipped)", source, where, exc)


def _csv_rows(fh: Any, source: str, counts: dict[str, int]) -> Iterator[SensorReading]:
    reader = csv.reader(fh)
    header = next(reader, None)
    if not header or header[:2] != ["t_event_ns", "device"] or not 3 <= len(header) <= MAX_CHANNELS + 2:
        raise ValueError(f"expected a header 't_event_ns,device,<channel>...', got {header!r:.200}")
    channels = header[2:]
    while True:
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:  # a field over the size limit, a NUL byte
            _warn(source, counts, reader.line_num, exc)
            continue
        try:
            if len(row) != len(header):
                raise InputRangeError(f"{len(row)} columns, expected {len(header)}")
            yield parse_reading(source, row[0], row[1], dict(zip(channels, row[2:])))
        except Exception as exc:  # noqa: BLE001 - a row that trips anything is a bad row
            _warn(source, counts, reader.line_num, exc)


def _jsonl_rows(fh: Any, source: str, counts: dict[str, int]) -> Iterator[SensorReading]:
    n = 0
    while line := fh.readline(MAX_LINE + 1):
        n += 1
        if len(line) > MAX_LINE and not line.endswith("\n"):
            while (rest := fh.readline(MAX_LINE)) and not rest.endswith("\n"):
                pass
            _warn(source, counts, n, InputRangeError(f"line longer than {MAX_LINE}"))
            continue
        if not line.strip():
            continue
        try:
            d = load_json_object(line, max_bytes=MAX_LINE)
            yield parse_reading(source, d.get("t_event_ns"), d.get("device"), d.get("values"), d.get("units"))
        except Exception as exc:  # noqa: BLE001 - a line that trips anything is a bad row
            _warn(source, counts, n, exc)


def iter_readings(path: Path | str, source: str = "replay", counts: dict[str, int] | None = None
                  ) -> Iterator[SensorReading]:
    """Every good reading of a CSV or JSONL recording, in file order."""
    counts = counts if counts is not None else {}
    counts.setdefault("bad_rows", 0)
    f = resolve_path(path)
    with open(f, encoding="utf-8", errors="replace", newline="") as fh:
        if f.suffix == ".jsonl":
            yield from _jsonl_rows(fh, source, counts)
        else:
            yield from _csv_rows(fh, source, counts)


class SensorReplaySource:
    """Source API: ``id``, ``run(emit, stop)`` (blocks; never raises), ``stats()``.

    :param speed: 1.0 = real time, 2.0 = twice as fast, 0 = no pacing.
    :param rebase_time: publish the recording as if it started now, compressed onto the box clock.
    :param wall_ns: the box clock; :param monotonic: the pacing clock (seconds); both injectable for tests.
    """

    def __init__(self, id: str, path: Path | str, *, speed: float = 1.0, rebase_time: bool = False,
                 loop: bool = False, max_gap_s: float = DEFAULT_MAX_GAP_S,
                 wall_ns: Callable[[], int] = time.time_ns, monotonic: Callable[[], float] = time.monotonic) -> None:
        self.id = id
        self.path = resolve_path(path)
        self.speed = float(speed)
        self.rebase_time = rebase_time
        self.loop = loop
        self.timeline = ReplayTimeline(speed=self.speed, rebase=rebase_time, max_gap_s=max_gap_s, wall_ns=wall_ns,
                                       monotonic=monotonic)
        self._monotonic = monotonic
        self.counts: dict[str, int] = {"readings": 0, "bad_rows": 0, "passes": 0}
        self.error: str | None = None

    @classmethod
    def from_config(cls, cfg: Any) -> SensorReplaySource:
        return cls(cfg.id, cfg.path, speed=cfg.speed, rebase_time=cfg.rebase_time, loop=cfg.loop,
                   max_gap_s=getattr(cfg, "max_gap_s", DEFAULT_MAX_GAP_S))

    def run(self, emit: Callable[[Product], None], stop: threading.Event) -> None:
        try:
            while not stop.is_set():
                n = self._one_pass(emit, stop)
                self.counts["passes"] += 1
                if not self.loop or n == 0:
                    return
        except (OSError, ValueError) as exc:
            self.error = f"{self.path}: {exc}"
            log.error("source %s: cannot replay %s", self.id, self.error)

    def _one_pass(self, emit: Callable[[Product], None], stop: threading.Event) -> int:
        tl = self.timeline
        tl.begin_pass()
        n = 0
        for r in tl.filter(iter_readings(self.path, self.id, self.counts), lambda r: r.t_event_ns):
            if stop.is_set():
                break
            due = tl.due(r.t_event_ns)
            if due is not None:
                delay = due - self._monotonic()
                if delay > 0 and stop.wait(delay):
                    break
            emit(replace(r, t_event_ns=tl.stamp(r.t_event_ns)))
            self.counts["readings"] += 1
            n += 1
        return n

    def stats(self) -> dict[str, Any]:
        return {"type": "sensor_replay", "path": str(self.path), **self.counts, **self.timeline.stats(),
                "error": self.error}
