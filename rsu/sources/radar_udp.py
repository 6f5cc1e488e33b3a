"""Radar object lists as JSON datagrams over UDP (schema: docs/wire-format.md, "Radar UDP input").

One datagram = one measurement cycle::

    {"schema": "rsu.radar-udp/1", "cycle": 42, "t_event": 1767225600000000000,
     "objects": [{"id": 3, "x": 21.4, "y": -1.6, "vx": -8.25, "vy": 0.0,
                  "rcs": 12.5, "class": "car", "prob_exist": 0.99}]}

Bad datagrams (not UTF-8 JSON, wrong schema, bad or out-of-range fields, an event time outside
``max_clock_skew_s`` of the box clock) and cycles older than the last one are counted and skipped; a
cycle counter that restarts or was corrupt is resynchronised after two cycles (``counter_resyncs``);
silence becomes a :class:`HealthEvent`. Ranges: ``cycle`` 0..2^32-1, ``id`` 0..2^32-1, at most 512
objects, ``x``/``y`` within +-2000 m, ``vx``/``vy`` within +-200 m/s, ``rcs`` within +-100 dBm2,
``length``/``width`` 0..100 m, ``class`` 1-32 characters.
"""

from __future__ import annotations

import logging
import math
import socket
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any

from rsu_sdk import InvalidDataError, Product, RadarObject, RadarScan

from rsu.sources.bounds import (DEFAULT_MAX_CLOCK_SKEW_S, ClockWindow, InputRangeError, bounded_int, describe,
                                load_json_object)
from rsu.sources.sequence import CounterGuard
from rsu.sources.silence import SilenceWatch

__all__ = ["UdpRadarSource", "parse_datagram", "DatagramError", "SCHEMA"]

SCHEMA = "rsu.radar-udp/1"
MAX_DATAGRAM = 65507
MAX_OBJECTS = 512
_RANGES = {"x": 2000.0, "y": 2000.0, "vx": 200.0, "vy": 200.0, "rcs": 100.0}
log = logging.getLogger(__name__)


class DatagramError(ValueError):
    """A datagram that does not follow the schema; the message names the field."""


def _num(obj: Mapping[str, Any], key: str, where: str, default: float | None = None, *, lo: float | None = None,
         hi: float | None = None) -> float:
    value = obj.get(key, default)
    if value is None:
        raise DatagramError(f"{where}.{key}: required")
    if isinstance(value, bool) or not isinstance(value, (int, float)) or (
            isinstance(value, int) and abs(value) > 10**9) or not math.isfinite(value):
        raise DatagramError(f"{where}.{key}: expected a finite number, got {describe(value)}")
    lo = -_RANGES[key] if lo is None else lo
    hi = _RANGES[key] if hi is None else hi
    if not lo <= value <= hi:
        raise DatagramError(f"{where}.{key}: {value} outside [{lo:g}, {hi:g}]")
    return float(value)


def parse_datagram(payload: bytes, source: str, received_ns: int, window: ClockWindow | None = None) -> RadarScan:
    """Decode one datagram into a :class:`RadarScan`; :class:`DatagramError` names what is wrong.

    :param window: when given, ``t_event`` must lie within it (``received_ns`` is the box clock).
    """
    try:
        return _parse(payload, source, received_ns, window)
    except DatagramError:
        raise
    except InputRangeError as exc:
        raise DatagramError(str(exc)) from None
    except Exception as exc:  # noqa: BLE001 - whatever a datagram trips is a bad datagram
        raise DatagramError(f"bad datagram: {type(exc).__name__}: {exc}") from None


def _parse(payload: bytes, source: str, received_ns: int, window: ClockWindow | None) -> RadarScan:
    doc = load_json_object(payload, max_bytes=MAX_DATAGRAM)
    if doc.get("schema") != SCHEMA:
        raise DatagramError(f"schema: expected {SCHEMA!r}, got {describe(doc.get('schema'))}")
    cycle = bounded_int(doc.get("cycle"), "cycle: expected an integer >= 0;", 0, 2**32 - 1)
    t_event = doc.get("t_event", received_ns)
    if window is not None:
        t_event = window.check(t_event, "t_event", now_ns=received_ns)
    else:
        t_event = bounded_int(t_event, "t_event: expected integer ns since the epoch;", 0, 2**63 - 1)
    raw_objects = doc.get("objects", [])
    if not isinstance(raw_objects, list) or len(raw_objects) > MAX_OBJECTS:
        raise DatagramError(f"objects: expected a list of at most {MAX_OBJECTS}")
    objects = []
    for i, o in enumerate(raw_objects):
        where = f"objects[{i}]"
        if not isinstance(o, dict):
            raise DatagramError(f"{where}: expected an object")
        oid = bounded_int(o.get("id"), f"{where}.id: expected an integer;", 0, 2**32 - 1)
        cls = o.get("class", "unknown")
        if not isinstance(cls, str) or not 0 < len(cls) <= 32:
            raise DatagramError(f"{where}.class: expected a string of 1-32 characters, got {describe(cls)}")
        pe = o.get("prob_exist")
        try:
            objects.append(RadarObject(
                object_id=oid, dist_long=_num(o, "x", where), dist_lat=_num(o, "y", where),
                vrel_long=_num(o, "vx", where, 0.0), vrel_lat=_num(o, "vy", where, 0.0),
                rcs=_num(o, "rcs", where, 0.0), class_name=cls,
                prob_exist=None if pe is None else _num(o, "prob_exist", where, lo=0.0, hi=1.0),
                length=None if o.get("length") is None else _num(o, "length", where, lo=0.0, hi=100.0),
                width=None if o.get("width") is None else _num(o, "width", where, lo=0.0, hi=100.0),
            ))
        except InvalidDataError as exc:
            raise DatagramError(f"{where}: {exc}") from None
    return RadarScan(source=source, t_event_ns=t_event, cycle=cycle, objects=tuple(objects))


class UdpRadarSource:
    """Binds ``host:port`` and emits one :class:`RadarScan` per good datagram."""

    def __init__(self, id: str, *, host: str = "127.0.0.1", port: int, silence_s: float = 1.0,
                 backoff_s: tuple[float, float] = (0.2, 5.0), max_clock_skew_s: float = DEFAULT_MAX_CLOCK_SKEW_S,
                 wall_ns: Callable[[], int] = time.time_ns) -> None:
        self.id, self.host, self.port, self.silence_s, self.backoff_s = id, host, port, silence_s, backoff_s
        self.counts = dict.fromkeys(("datagrams", "cycles", "bad_datagrams", "out_of_order_cycles",
                                     "counter_resyncs", "socket_errors", "health_events"), 0)
        self.last_error: str | None = None
        self.bound_port: int | None = None
        self.ready = threading.Event()
        self.window = ClockWindow(max_clock_skew_s, wall_ns)
        self._cycles = CounterGuard(2**32)

    @classmethod
    def from_config(cls, cfg: Any) -> UdpRadarSource:
        return cls(cfg.id, host=cfg.host, port=cfg.port, silence_s=cfg.silence_s,
                   max_clock_skew_s=getattr(cfg, "max_clock_skew_s", DEFAULT_MAX_CLOCK_SKEW_S))

    def handle(self, payload: bytes, received_ns: int | None = None) -> RadarScan | None:
        """Validate one datagram received at ``received_ns`` (box clock); count and drop it when bad or out of
        order. Never raises."""
        self.counts["datagrams"] += 1
        try:
            scan = parse_datagram(payload, self.id, self.window.wall_ns() if received_ns is None else received_ns,
                                  self.window)
        except DatagramError as exc:
            self.counts["bad_datagrams"] += 1
            self.last_error = str(exc)
            log.debug("%s: bad datagram: %s", self.id, exc)
            return None
        if not self._cycles.accept(scan.cycle):
            self.counts["out_of_order_cycles"] = self._cycles.out_of_order
            return None
        self.counts["counter_resyncs"] = self._cycles.resyncs
        self.counts["cycles"] += 1
        return scan

    def run(self, emit: Callable[[Product], None], stop: threading.Event) -> None:
        watch = SilenceWatch(self.id, f"source:{self.id}", self.silence_s)
        delay = self.backoff_s[0]

        def health(event: Any) -> None:
            if event is not None:
                self.counts["health_events"] += 1
                emit(event)

        while not stop.is_set():
            try:
                sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                sock.bind((self.host, self.port))
                sock.settimeout(0.1)
            except OSError as exc:
                self.counts["socket_errors"] += 1
                health(watch.fault(f"cannot bind udp {self.host}:{self.port}: {exc}"))
                stop.wait(delay)
                delay = min(delay * 2, self.backoff_s[1])
                continue
            delay = self.backoff_s[0]
            self.bound_port = sock.getsockname()[1]
            self.ready.set()
            try:
                while not stop.is_set():
                    try:
                        payload, _ = sock.recvfrom(MAX_DATAGRAM)
                    except TimeoutError:
                        payload = None
                    if payload is not None:
                        scan = self.handle(payload)
                        if scan is not None:
                            health(watch.data())
                            emit(scan)
                    health(watch.check())
            except OSError as exc:
                self.counts["socket_errors"] += 1
                health(watch.fault(f"udp receive failed: {exc}"))
            finally:
                sock.close()
                self.ready.clear()

    def stats(self) -> dict[str, Any]:
        return {**self.counts, **self.window.stats(), "last_error": self.last_error}
