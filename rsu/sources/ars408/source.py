"""The ARS408 source: a python-can bus (SocketCAN on a box, ``virtual`` in tests) -> :class:`RadarScan`."""

from __future__ import annotations

import dataclasses
import logging
import math
import threading
import time
from collections.abc import Callable
from typing import Any

from rsu_sdk import Product, RadarScan

from rsu.sources.ars408.assembler import CycleAssembler
from rsu.sources.bounds import DEFAULT_MAX_CLOCK_SKEW_S, ClockWindow, InputRangeError
from rsu.sources.silence import SilenceWatch

__all__ = ["Ars408Source"]

log = logging.getLogger(__name__)


class Ars408Source:
    """Reads object-list frames from a CAN bus and emits one :class:`RadarScan` per complete cycle.

    Reconnects with exponential backoff on bus errors (and on anything else the bus raises); emits a
    ``down`` :class:`HealthEvent` after ``silence_s`` without a complete cycle and ``ok`` when cycles come
    back. Frames without a usable hardware timestamp are stamped with the box clock; a cycle whose time is
    outside ``max_clock_skew_s`` of the box clock is counted (``time_rejected``) and dropped.
    """

    def __init__(self, id: str, *, interface: str = "socketcan", channel: str = "can0", bitrate: int = 500_000,
                 silence_s: float = 1.0, backoff_s: tuple[float, float] = (0.2, 5.0),
                 bus_kwargs: dict[str, Any] | None = None, max_clock_skew_s: float = DEFAULT_MAX_CLOCK_SKEW_S,
                 wall_ns: Callable[[], int] = time.time_ns) -> None:
        self.id = id
        self.interface, self.channel, self.bitrate = interface, channel, bitrate
        self.silence_s = silence_s
        self.backoff_s = backoff_s
        self.bus_kwargs = dict(bus_kwargs or {})
        self.assembler = CycleAssembler(id)
        self.window = ClockWindow(max_clock_skew_s, wall_ns)
        self._reconnects = 0
        self._health_events = 0
        self._bus_errors = 0
        self.last_error: str | None = None

    @classmethod
    def from_config(cls, cfg: Any) -> Ars408Source:
        return cls(cfg.id, interface=cfg.interface, channel=cfg.channel, bitrate=cfg.bitrate,
                   silence_s=cfg.silence_s, max_clock_skew_s=getattr(cfg, "max_clock_skew_s", DEFAULT_MAX_CLOCK_SKEW_S))

    def handle(self, msg: Any) -> RadarScan | None:
        """One received frame (a ``can.Message``) through the assembler and the clock window; never raises."""
        ts = getattr(msg, "timestamp", None)
        if isinstance(ts, bool) or not isinstance(ts, (int, float)) or not (math.isfinite(ts) and ts > 1e9):
            ts = self.window.wall_ns() / 1e9  # interfaces without hardware stamps give 0 or uptime seconds
        scan = self.assembler.feed(getattr(msg, "arbitration_id", -1), getattr(msg, "data", b""), ts,
                                   is_error=bool(getattr(msg, "is_error_frame", False)),
                                   is_extended_id=bool(getattr(msg, "is_extended_id", False)))
        if scan is None:
            return None
        try:
            t = self.window.check(scan.t_event_ns)
        except InputRangeError as exc:
            self.last_error = str(exc)
            return None
        return scan if t == scan.t_event_ns else dataclasses.replace(scan, t_event_ns=t)

    def _open(self) -> Any:
        import can

        return can.Bus(interface=self.interface, channel=self.channel, bitrate=self.bitrate, **self.bus_kwargs)

    def run(self, emit: Callable[[Product], None], stop: threading.Event) -> None:
        """Blocking loop until ``stop`` is set; never raises for bus or frame problems."""
        import can

        watch = SilenceWatch(self.id, f"source:{self.id}", self.silence_s)
        delay = self.backoff_s[0]

        def health(event: Any) -> None:
            if event is not None:
                self._health_events += 1
                emit(event)

        while not stop.is_set():
            try:
                bus = self._open()
            except Exception as exc:  # noqa: BLE001 - python-can raises many kinds; all mean "try again later"
                self.last_error = f"cannot open CAN {self.interface}:{self.channel}: {exc}"
                health(watch.fault(self.last_error))
                self._reconnects += 1
                stop.wait(delay)
                delay = min(delay * 2, self.backoff_s[1])
                continue
            self.assembler.reset_sequence()
            failed = False
            try:
                while not stop.is_set():
                    msg = bus.recv(timeout=0.1)
                    if msg is not None:
                        scan = self.handle(msg)
                        if scan is not None:
                            delay = self.backoff_s[0]  # the bus works: the next failure starts the backoff again
                            health(watch.data())
                            emit(scan)
                    health(watch.check())
            except Exception as exc:  # noqa: BLE001 - a bus that fails in any way is reopened with backoff
                kind = "" if isinstance(exc, (can.CanError, OSError)) else f"{type(exc).__name__}: "
                self.last_error = f"CAN read failed: {kind}{exc}"
                log.warning("%s: %s, reconnecting", self.id, self.last_error)
                health(watch.fault(self.last_error))
                self._reconnects += 1
                self._bus_errors += 1
                failed = True
            finally:
                try:
                    bus.shutdown()
                except Exception:  # noqa: BLE001 - closing a broken bus must not end the loop
                    pass
            if failed:
                if stop.wait(delay):
                    return
                delay = min(delay * 2, self.backoff_s[1])

    def stats(self) -> dict[str, Any]:
        out: dict[str, Any] = self.assembler.stats()
        out.update(reconnects=self._reconnects, health_events=self._health_events, bus_errors=self._bus_errors,
                   last_error=self.last_error, **self.window.stats())
        state = self.assembler.last_state
        if state is not None:
            out["radar_state"] = {k: getattr(state, k) for k in state.__slots__}
        return out
