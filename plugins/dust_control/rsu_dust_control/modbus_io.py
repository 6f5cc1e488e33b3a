"""One actuator's coil over Modbus TCP (pymodbus sync client): read, write, confirm.

pymodbus' own retries are off (``retries=0``): a request is sent once per call, so the worker alone decides
when a write is repeated, and only after reading the coil back (see :mod:`rsu_dust_control.actuator`).
"""

from __future__ import annotations

import time

from pymodbus.client import ModbusTcpClient
from pymodbus.exceptions import ModbusException

from rsu_dust_control.settings import ModbusPoint

__all__ = ["ActuatorError", "CoilLink"]


class ActuatorError(Exception):
    """The actuator could not be reached or answered with an error."""


class CoilLink:
    """A connection to the device that owns one coil (and its optional read-back register)."""

    def __init__(self, point: ModbusPoint, *, timeout_s: float = 1.0) -> None:
        self.point = point
        self.client = ModbusTcpClient(point.host, port=point.port, timeout=timeout_s, retries=0,
                                      reconnect_delay=0, name=f"coil-{point.host}:{point.port}/{point.coil}")
        self.writes = 0

    def _check(self, response: object, what: str) -> object:
        if response is None or getattr(response, "isError", lambda: True)():
            raise ActuatorError(f"{what}: device {self.point.unit} at {self.point.host}:{self.point.port} "
                                f"answered {response}")
        return response

    def _call(self, what: str, fn, *args, **kwargs):  # noqa: ANN001, ANN202 - thin pymodbus wrapper
        try:
            if not self.client.connect():
                raise ActuatorError(f"cannot connect to {self.point.host}:{self.point.port}")
            return self._check(fn(*args, device_id=self.point.unit, **kwargs), what)
        except ModbusException as exc:
            self.client.close()
            raise ActuatorError(f"{what}: {exc}") from None
        except OSError as exc:
            self.client.close()
            raise ActuatorError(f"{what}: {exc}") from None

    def read_coil(self) -> bool:
        rr = self._call(f"read coil {self.point.coil}", self.client.read_coils, self.point.coil, count=1)
        return bool(rr.bits[0])  # type: ignore[attr-defined]

    def write_coil(self, value: bool) -> None:
        self.writes += 1
        self._call(f"write coil {self.point.coil}", self.client.write_coil, self.point.coil, value)

    def read_status(self) -> bool | None:
        """The read-back register as running / not running, or None when none is configured."""
        reg = self.point.readback_register
        if reg is None:
            return None
        fn = self.client.read_input_registers if self.point.readback_kind == "input" else \
            self.client.read_holding_registers
        rr = self._call(f"read {self.point.readback_kind} register {reg}", fn, reg, count=1)
        return bool(rr.registers[0])  # type: ignore[attr-defined]

    def confirmed(self, value: bool, *, timeout_s: float, poll_s: float = 0.05) -> bool:
        """Read back until the coil (and the read-back register, when set) report ``value``, or time out."""
        deadline = time.monotonic() + timeout_s
        while True:
            status = self.read_status()
            if self.read_coil() == value and (status is None or status == value):
                return True
            if time.monotonic() >= deadline:
                return False
            time.sleep(poll_s)

    def close(self) -> None:
        self.client.close()
