"""Poll the manual-override coil on a background thread; the rule engine reads the latest value."""

from __future__ import annotations

import logging
import threading

from rsu_dust_control.modbus_io import ActuatorError, CoilLink
from rsu_dust_control.settings import ModbusPoint

__all__ = ["OverrideCoil"]


class OverrideCoil:
    """``active`` is True while the coil is set. An unreachable coil keeps the last known value (logged once)."""

    def __init__(self, point: ModbusPoint, *, poll_s: float, timeout_s: float, logger: logging.Logger) -> None:
        self.link = CoilLink(point, timeout_s=timeout_s)
        self.poll_s = poll_s
        self.log = logger
        self.active = False
        self.reachable: bool | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="dust-override", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                value = self.link.read_coil()
                if value != self.active:
                    self.log.warning("manual override coil %s", "set: hold" if value else "cleared: auto")
                self.active, self.reachable = value, True
            except ActuatorError as exc:
                if self.reachable is not False:
                    self.log.warning("manual override coil unreachable (keeping %s): %s", self.active, exc)
                self.reachable = False
            self._stop.wait(self.poll_s)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(self.poll_s + self.link.client.comm_params.timeout_connect * 2 + 1)
        self.link.close()
