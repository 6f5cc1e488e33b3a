"""Test helpers: a real pymodbus TCP server on 127.0.0.1 playing a rack of sprayers; plugin drivers."""

from __future__ import annotations

import asyncio
import socket
import struct
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pymodbus.server import ModbusTcpServer
from pymodbus.simulator import DataType, SimData, SimDevice
from rsu_sdk.testing import RecordingPublisher, plugin_context

from rsu_dust_control import DustControl

N_COILS = 16
OVERRIDE_COIL = 15


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class SprayerServer:
    """Coil ``i`` switches sprayer ``i``; input register ``i`` reads 1 while sprayer ``i`` really runs.

    Coil states survive :meth:`stop` / :meth:`start` (like a PLC's retained outputs); every coil write that
    reaches the datastore is logged in ``writes`` as ``(coil, value)``. ``stuck`` coils never report running;
    ``drop_write_responses`` swallows that many write responses (the write itself is applied).
    """

    def __init__(self, port: int | None = None, unit: int = 1) -> None:
        self.port = port or free_port()
        self.unit = unit
        self.coils = [False] * N_COILS
        self.writes: list[tuple[int, bool]] = []
        self.stuck: set[int] = set()
        self.drop_write_responses = 0
        self._lock = threading.Lock()
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="modbus-server", daemon=True)
        self._thread.start()
        self._server: ModbusTcpServer | None = None

    async def _action(self, fc: int, start: int, address: int, count: int, registers: list[int],
                      values: list[int] | list[bool] | None) -> None:
        with self._lock:
            if fc in (5, 15) and values is not None:
                for i, v in enumerate(values):
                    self.coils[address + i] = bool(v)
                    self.writes.append((address + i, bool(v)))
            elif fc == 4:
                for i in range(count):
                    reg = address + i
                    registers[reg - start] = int(self.coils[reg] and reg not in self.stuck)
        return None

    def _trace_packet(self, sending: bool, data: bytes) -> bytes:
        # MBAP header is 7 bytes; the function code follows. Drop the answer to a write-coil request.
        if sending and len(data) > 7 and data[7] == 5 and self.drop_write_responses > 0:
            self.drop_write_responses -= 1
            return b""
        return data

    async def _start(self) -> None:
        device = SimDevice(self.unit, simdata=(
            [SimData(0, values=list(self.coils), datatype=DataType.BITS)],
            [SimData(0, values=[False] * N_COILS, datatype=DataType.BITS)],
            [SimData(0, count=N_COILS, values=0, datatype=DataType.REGISTERS)],
            [SimData(0, count=N_COILS, values=0, datatype=DataType.REGISTERS)],
        ), action=self._action)
        self._server = ModbusTcpServer(device, address=("127.0.0.1", self.port), trace_packet=self._trace_packet)
        await self._server.serve_forever(background=True)

    def start(self) -> SprayerServer:
        asyncio.run_coroutine_threadsafe(self._start(), self._loop).result(5)
        return self

    def stop(self) -> None:
        if self._server is not None:
            asyncio.run_coroutine_threadsafe(self._server.shutdown(), self._loop).result(5)
            self._server = None

    def set_coil(self, coil: int, value: bool) -> None:
        """Change a coil from the device side (e.g. an operator's switch), not counted as a write."""
        self.stop()
        self.coils[coil] = value
        self.start()

    def close(self) -> None:
        self.stop()
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)


class BlackHole:
    """A TCP server on loopback that accepts connections and never answers (a hung device); closing it
    closes every connection, so blocked requests fail at once."""

    def __init__(self) -> None:
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = int(self._listener.getsockname()[1])
        self._conns: list[socket.socket] = []
        self._thread = threading.Thread(target=self._accept, name="black-hole", daemon=True)
        self._thread.start()

    @property
    def connections(self) -> int:
        return len(self._conns)

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self._listener.accept()
            except OSError:
                return
            self._conns.append(conn)

    def __enter__(self) -> BlackHole:
        return self

    def __exit__(self, *exc: object) -> None:
        try:
            self._listener.shutdown(socket.SHUT_RDWR)  # wakes the blocked accept()
        except OSError:
            pass
        self._listener.close()
        for conn in self._conns:  # reset, so that a client blocked in recv() fails at once
            conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            conn.close()
        self._thread.join(10)


FAST = {"timeout_s": 0.5, "retry_initial_s": 0.05, "retry_max_s": 0.3, "confirm_timeout_s": 0.3,
        "alarm_after_attempts": 3, "alarm_after_s": 2.0, "stop_timeout_s": 3.0}


def sprayer_config(port: int, n: int = 2, *, readback: bool = True, **extra: Any) -> dict[str, Any]:
    """Settings with one station at the origin and ``n`` sprayers on coils 0..n-1 of the test server."""
    sprayers = []
    for i in range(n):
        modbus: dict[str, Any] = {"host": "127.0.0.1", "port": port, "unit": 1, "coil": i}
        if readback:
            modbus["readback_register"] = i
        sprayers.append({"id": f"spr-{i}", "position": [10.0 * (i + 1), 0.0], "modbus": modbus})
    return {"stations": [{"id": "aq-1", "position": [0.0, 0.0]}], "sprayers": sprayers,
            "min_on_s": 0, "min_off_s": 0, "actuation": dict(FAST), **extra}


class Harness:
    """The plugin started as the host would: what it emits is recorded and published as the host would."""

    def __init__(self, config: dict[str, Any], state_dir: Path | None = None, emitted: list[Any] | None = None
                 ) -> None:
        self.publisher = RecordingPublisher()
        self.emitted: list[Any] = [] if emitted is None else emitted
        self.plugin = DustControl()
        self.plugin.rsu_on_start(context=plugin_context(
            name="dust_control", config=config, publisher=self.publisher, emitted=self.emitted,
            state_dir=state_dir))

    def of_schema(self, schema: str, actuator: str | None = None) -> list[Any]:
        return [m for m in self.publisher.of_schema(schema) if actuator is None or m.source == actuator]

    def stop(self) -> None:
        self.plugin.rsu_on_stop()


def wait_for(predicate: Callable[[], bool], timeout: float = 10.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.02)
