"""Radar object lists as JSON datagrams over UDP (schema: docs/wire-format.md, "Radar UDP input").

One datagram = one measurement cycle::

    {"schema": "rsu.radar-udp/1", "cycle": 42, "t_event": 1767225600000000000,
     "objects": [{"id": 3, "x": 21.4, "y": -1.6, "vx": -8.25, "vy": 0.0,
                  "rcs": 12.5, "class": "car", "prob_exist": 0.99}]}

Bad datagrams (not UTF-8 JSON, wrong schema, bad fields) and cycles older than the last one are
counted and skipped; silence becomes a :class:`HealthEvent`.
"""

from __future__ import annotations

import json
import logging
import math
import socket
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any

from rsu_sdk import InvalidDataError, Product, RadarObject, RadarScan

from rsu.sources.silence import SilenceWatch

__all__ = ["UdpRadarSource", "parse_datagram", "DatagramError", "SCHEMA"]

SCHEMA = "rsu.radar-udp/1"
MAX_DATAGRAM = 65507
log = logging.getLogger(__name__)


class DatagramError(ValueError):
    """A datagram that does not follow the schema; the message names the field."""


def _num(obj: Mapping[str, Any], key: str, where: str, default: float | None = None) -> float:
    value = obj.get(key, default)
    if value is None:
        raise DatagramError(f"{where}.{key}: required")
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise DatagramError(f"{where}.{key}: expected a finite number, got {value!r}")
    return float(value)


def parse_datagram(payload: bytes, source: str, received_ns: int) -> RadarScan:
    """Decode one datagram into a :class:`RadarScan`; :class:`DatagramError` names what is wrong."""
    try:
        doc = json.loads(payload.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise DatagramError(f"not UTF-8 JSON: {exc}") from None
    if not isinstance(doc, dict):
        raise DatagramError(f"expected a JSON object, got {type(doc).__name__}")
    if doc.get("schema") != SCHEMA:
        raise DatagramError(f"schema: expected {SCHEMA!r}, got {doc.get('schema')!r}")
    cycle = doc.get("cycle")
    if isinstance(cycle, bool) or not isinstance(cycle, int) or cycle < 0:
        raise DatagramError(f"cycle: expected an integer >= 0, got {cycle!r}")
    t_event = doc.get("t_event", received_ns)
    if isinstance(t_event, bool) or not isinstance(t_event, int) or t_event < 0:
        raise DatagramError(f"t_event: expected integer ns since the epoch, got {t_event!r}")
    raw_objects = doc.get("objects", [])
    if not isinstance(raw_objects, list):
        raise DatagramError("objects: expected a list")
    objects = []
    for i, o in enumerate(raw_objects):
        where = f"objects[{i}]"
        if not isinstance(o, dict):
            raise DatagramError(f"{where}: expected an object")
        oid = o.get("id")
        if isinstance(oid, bool) or not isinstance(oid, int):
            raise DatagramError(f"{where}.id: expected an integer, got {oid!r}")
        cls = o.get("class", "unknown")
        if not isinstance(cls, str):
            raise DatagramError(f"{where}.class: expected a string")
        pe = o.get("prob_exist")
        try:
            objects.append(RadarObject(
                object_id=oid, dist_long=_num(o, "x", where), dist_lat=_num(o, "y", where),
                vrel_long=_num(o, "vx", where, 0.0), vrel_lat=_num(o, "vy", where, 0.0),
                rcs=_num(o, "rcs", where, 0.0), class_name=cls,
                prob_exist=None if pe is None else _num(o, "prob_exist", where),
                length=None if o.get("length") is None else _num(o, "length", where),
                width=None if o.get("width") is None else _num(o, "width", where),
            ))
        except InvalidDataError as exc:
            raise DatagramError(f"{where}: {exc}") from None
    return RadarScan(source=source, t_event_ns=t_event, cycle=cycle, objects=tuple(objects))


class UdpRadarSource:
    """Binds ``host:port`` and emits one :class:`RadarScan` per good datagram."""

    def __init__(self, id: str, *, host: str = "127.0.0.1", port: int, silence_s: float = 1.0,
                 backoff_s: tuple[float, float] = (0.2, 5.0)) -> None:
        self.id, self.host, self.port, self.silence_s, self.backoff_s = id, host, port, silence_s, backoff_s
        self.counts = dict.fromkeys(("datagrams", "cycles", "bad_datagrams", "out_of_order_cycles",
                                     "socket_errors", "health_events"), 0)
        self.last_error: str | None = None
        self.bound_port: int | None = None
        self.ready = threading.Event()
        self._last_cycle: int | None = None

    @classmethod
    def from_config(cls, cfg: Any) -> UdpRadarSource:
        return cls(cfg.id, host=cfg.host, port=cfg.port, silence_s=cfg.silence_s)

    def handle(self, payload: bytes, received_ns: int) -> RadarScan | None:
        """Validate one datagram; count and drop it when bad or out of order."""
        self.counts["datagrams"] += 1
        try:
            scan = parse_datagram(payload, self.id, received_ns)
        except DatagramError as exc:
            self.counts["bad_datagrams"] += 1
            self.last_error = str(exc)
            log.debug("%s: bad datagram: %s", self.id, exc)
            return None
        if self._last_cycle is not None and scan.cycle <= self._last_cycle and self._last_cycle - scan.cycle < 2**31:
            self.counts["out_of_order_cycles"] += 1
            return None
        self._last_cycle = scan.cycle
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
                        scan = self.handle(payload, time.time_ns())
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
        return {**self.counts, "last_error": self.last_error}
