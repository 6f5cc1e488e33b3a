"""One real Modbus TCP device for the tests in tests/: a pymodbus server on 127.0.0.1 on its own event loop.

(The dust_control plugin's own tests keep theirs in plugins/dust_control/tests/dust_helpers.py: a plugin's
tests import rsu_sdk and pymodbus only, never the host's test helpers.)
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Sequence

from pymodbus.server import ModbusTcpServer
from pymodbus.simulator import DataType, SimData, SimDevice

from rsu.app.testing import free_port

__all__ = ["ModbusServer", "coil_bank"]

SimBlocks = tuple[Sequence[SimData], Sequence[SimData], Sequence[SimData], Sequence[SimData]]


def coil_bank(n: int = 16) -> SimBlocks:
    """``n`` coils, ``n`` discrete inputs, ``n`` holding and ``n`` input registers, all zero."""
    bits = [SimData(0, values=[False] * n, datatype=DataType.BITS)]
    regs = [SimData(0, count=n, values=0, datatype=DataType.REGISTERS)]
    return bits, list(bits), regs, list(regs)


class ModbusServer:
    """A Modbus TCP server holding ``blocks`` (coils, discrete inputs, holding registers, input registers).

    Every coil write (function 5 or 15) that reaches the device is logged in ``writes`` as ``(coil, value)``.
    :meth:`stop` and :meth:`start` again on the same port play a device that goes away and comes back (with
    ``blocks`` as they were given: written values do not survive a restart).
    """

    def __init__(self, blocks: SimBlocks | None = None, *, unit: int = 1, port: int | None = None) -> None:
        self.blocks = blocks or coil_bank()
        self.unit = unit
        self.port = port or free_port()
        self.writes: list[tuple[int, bool]] = []
        self._server: ModbusTcpServer | None = None
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="modbus-server", daemon=True)
        self._thread.start()

    async def _action(self, fc: int, start: int, address: int, count: int, registers: list[int],
                      values: list[int] | list[bool] | None) -> None:
        if fc in (5, 15) and values is not None:
            self.writes.extend((address + i, bool(v)) for i, v in enumerate(values))

    async def _start(self) -> None:
        device = SimDevice(self.unit, simdata=tuple(list(b) for b in self.blocks), action=self._action)
        self._server = ModbusTcpServer(device, address=("127.0.0.1", self.port))
        await self._server.serve_forever(background=True)

    def start(self) -> ModbusServer:
        """Listen (again); returns ``self``."""
        asyncio.run_coroutine_threadsafe(self._start(), self._loop).result(30)
        return self

    def stop(self) -> None:
        """Stop listening and drop every connection (the device went away)."""
        if self._server is not None:
            asyncio.run_coroutine_threadsafe(self._server.shutdown(), self._loop).result(30)
            self._server = None

    def close(self) -> None:
        """Stop and end the event loop's thread."""
        self.stop()
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(30)

    def __enter__(self) -> ModbusServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()
