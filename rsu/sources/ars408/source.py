"""The ARS408 source: a python-can bus (SocketCAN on a box, ``virtual`` in tests) -> :class:`RadarScan`."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from rsu_sdk import Product

from rsu.sources.ars408.assembler import CycleAssembler
from rsu.sources.silence import SilenceWatch

__all__ = ["Ars408Source"]

log = logging.getLogger(__name__)


class Ars408Source:
    """Reads object-list frames from a CAN bus and emits one :class:`RadarScan` per complete cycle.

    Reconnects with exponential backoff on bus errors; emits a ``down`` :class:`HealthEvent` after
    ``silence_s`` without a complete cycle and ``ok`` when cycles come back.
    """

    def __init__(self, id: str, *, interface: str = "socketcan", channel: str = "can0", bitrate: int = 500_000,
                 silence_s: float = 1.0, backoff_s: tuple[float, float] = (0.2, 5.0),
                 bus_kwargs: dict[str, Any] | None = None) -> None:
        self.id = id
        self.interface, self.channel, self.bitrate = interface, channel, bitrate
        self.silence_s = silence_s
        self.backoff_s = backoff_s
        self.bus_kwargs = dict(bus_kwargs or {})
        self.assembler = CycleAssembler(id)
        self._reconnects = 0
        self._health_events = 0

    @classmethod
    def from_config(cls, cfg: Any) -> Ars408Source:
        return cls(cfg.id, interface=cfg.interface, channel=cfg.channel, bitrate=cfg.bitrate,
                   silence_s=cfg.silence_s)

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
            except (can.CanError, OSError, ValueError) as exc:
                health(watch.fault(f"cannot open CAN {self.interface}:{self.channel}: {exc}"))
                self._reconnects += 1
                stop.wait(delay)
                delay = min(delay * 2, self.backoff_s[1])
                continue
            delay = self.backoff_s[0]
            try:
                while not stop.is_set():
                    msg = bus.recv(timeout=0.1)
                    if msg is not None:
                        ts = msg.timestamp if msg.timestamp > 1e9 else time.time()
                        scan = self.assembler.feed(msg.arbitration_id, msg.data, ts, is_error=msg.is_error_frame,
                                                   is_extended_id=msg.is_extended_id)
                        if scan is not None:
                            health(watch.data())
                            emit(scan)
                    health(watch.check())
            except (can.CanError, OSError) as exc:
                log.warning("%s: CAN read failed, reconnecting: %s", self.id, exc)
                health(watch.fault(f"CAN read failed: {exc}"))
                self._reconnects += 1
            finally:
                try:
                    bus.shutdown()
                except Exception:  # noqa: BLE001 - closing a broken bus must not end the loop
                    pass

    def stats(self) -> dict[str, Any]:
        out: dict[str, Any] = self.assembler.stats()
        out.update(reconnects=self._reconnects, health_events=self._health_events)
        state = self.assembler.last_state
        if state is not None:
            out["radar_state"] = {k: getattr(state, k) for k in state.__slots__}
        return out
