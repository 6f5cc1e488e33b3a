"""Air-station readings polled from Modbus TCP registers (register map from the config).

Each poll reads every configured channel; a connection or protocol error closes the connection, emits a
``down`` health event (once) and retries with exponential backoff; the first good poll after that emits
``ok``. A value that decodes to NaN/inf or outside the channel's plausible range is counted as bad and that
poll skipped.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from pymodbus.client import ModbusTcpClient
from pymodbus.exceptions import ModbusException
from rsu_sdk import Product, SensorReading

from rsu.config.air_station import AIR_CHANNELS, AirStationModbusConfig, ModbusChannelConfig
from rsu.sources.air_station.common import Backoff, InputState
from rsu.sources.air_station.message import MessageError, check_channels

__all__ = ["ModbusPollError", "read_channels", "run_modbus"]

_WORDS = {"uint16": 1, "int16": 1, "uint32": 2, "int32": 2, "float32": 2}


class ModbusPollError(Exception):
    """A poll failed: the text names the station and the register."""


def _decode(client: ModbusTcpClient, regs: list[int], ch: ModbusChannelConfig) -> float:
    dt = getattr(client.DATATYPE, ch.type.upper())
    raw = client.convert_from_registers(regs, dt, word_order=ch.word_order)
    return float(raw) * ch.scale + ch.offset  # type: ignore[arg-type]


def read_channels(client: ModbusTcpClient, cfg: AirStationModbusConfig) -> dict[str, float]:
    """Read and scale every configured channel; :class:`ModbusPollError` on any failure."""
    values: dict[str, float] = {}
    for name, ch in cfg.registers.items():
        fn = client.read_input_registers if ch.kind == "input" else client.read_holding_registers
        where = f"{ch.kind} register {ch.address} ({name}) of {cfg.host}:{cfg.port}/{cfg.unit}"
        try:
            rr = fn(ch.address, count=_WORDS[ch.type], device_id=cfg.unit)
        except (ModbusException, OSError) as exc:
            raise ModbusPollError(f"{where}: {exc}") from None
        if rr.isError():
            raise ModbusPollError(f"{where}: device answered {rr}")
        values[name] = _decode(client, list(rr.registers), ch)
    return values


def run_modbus(cfg: AirStationModbusConfig, state: InputState, station: str, backoff: Backoff,
               emit: Callable[[Product], None], stop: threading.Event) -> None:
    """Poll every ``poll_s`` until ``stop``; never raises for an unreachable or misbehaving station."""
    client = ModbusTcpClient(cfg.host, port=cfg.port, timeout=cfg.timeout_s, retries=0, reconnect_delay=0)
    next_poll = time.monotonic()
    try:
        while not stop.is_set():
            try:
                if not client.connect():
                    raise ModbusPollError(f"cannot connect to {cfg.host}:{cfg.port}")
                values = read_channels(client, cfg)
            except ModbusPollError as exc:
                client.close()
                state.lost(emit, str(exc))
                state.counts["reconnects"] += 1
                if backoff.wait(stop):
                    return
                next_poll = time.monotonic()
                continue
            backoff.reset()
            state.counts["received"] += 1
            state.alive(emit)
            try:
                values = check_channels(values)
            except MessageError as exc:  # NaN, inf or outside the plausible range: this poll is skipped
                state.bad(f"{cfg.host}:{cfg.port}/{cfg.unit}: {exc}")
            else:
                state.counts["readings"] += 1
                emit(SensorReading(source=state.source_id, t_event_ns=time.time_ns(), device=station,
                                   values=values, units={k: AIR_CHANNELS[k] for k in values}))
            next_poll += cfg.poll_s
            delay = next_poll - time.monotonic()
            if delay < 0:  # fell behind (slow device): do not burst to catch up
                next_poll, delay = time.monotonic(), 0.0
            stop.wait(delay)
    finally:
        client.close()
