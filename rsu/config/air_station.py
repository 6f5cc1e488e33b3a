"""Settings of an air-quality station source (``sources[i].type: air_station``): its three kinds of input."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator

from rsu.config.base import StrictModel
from rsu.config.hosts import Host, ZmqEndpoint

__all__ = ["AIR_CHANNELS", "AirStationModbusConfig", "AirStationReplayConfig", "AirStationZmqConfig",
           "ModbusChannelConfig"]

AIR_CHANNELS: dict[str, str] = {
    "pm2_5": "ug/m3", "pm10": "ug/m3", "temperature_c": "degC", "humidity_pct": "%",
    "wind_speed_mps": "m/s", "wind_dir_deg": "deg",
}
"""Channel name -> unit of every value an air station reports."""


class AirStationZmqConfig(StrictModel):
    """A ZeroMQ SUB socket carrying JSON readings (format: docs/air-station.md)."""

    endpoint: ZmqEndpoint = Field(min_length=1, description="e.g. tcp://10.0.0.5:5570")
    topic: str = Field(default="", description="subscription prefix; empty = everything")
    bind: bool = Field(default=False, description="bind instead of connect (the station gateway connects)")
    stale_after_s: float = Field(default=30.0, gt=0, description="no reading for this long -> health 'down'")


class ModbusChannelConfig(StrictModel):
    """Where one channel lives in the station's register map; value = raw * scale + offset."""

    address: int = Field(ge=0, le=65535)
    kind: Literal["input", "holding"] = "input"
    type: Literal["uint16", "int16", "uint32", "int32", "float32"] = "float32"
    word_order: Literal["big", "little"] = "big"
    scale: float = 1.0
    offset: float = 0.0


class AirStationModbusConfig(StrictModel):
    """A station polled over Modbus TCP."""

    host: Host = Field(min_length=1)
    port: int = Field(default=502, gt=0, lt=65536)
    unit: int = Field(default=1, ge=0, le=255, description="Modbus device id")
    poll_s: float = Field(default=1.0, gt=0, description="seconds between polls")
    timeout_s: float = Field(default=1.0, gt=0)
    registers: dict[str, ModbusChannelConfig] = Field(min_length=1, description="channel -> register")

    @field_validator("registers")
    @classmethod
    def _known_channels(cls, value: dict[str, ModbusChannelConfig]) -> dict[str, ModbusChannelConfig]:
        unknown = sorted(set(value) - set(AIR_CHANNELS))
        if unknown:
            raise ValueError(f"unknown channel(s) {', '.join(unknown)}; known: {', '.join(AIR_CHANNELS)}")
        return value


class AirStationReplayConfig(StrictModel):
    """A recording of ``rsu simulate air-station`` (or any file of JSON readings, one per line)."""

    path: str = Field(min_length=1, description="readings.jsonl, or the folder holding it")
    speed: float = Field(default=1.0, ge=0, description="1.0 = real time, 0 = no pacing")
    loop: bool = Field(default=False, description="start again at the end (event times keep increasing)")
    rebase_time: bool = Field(default=False, description="shift event times so the recording starts now")
