"""Air-quality station source: PM2.5, PM10, temperature, humidity and wind as :class:`SensorReading`.

Inputs (exactly one per source): a ZeroMQ SUB socket with JSON messages, Modbus TCP registers polled at a
rate, or the replay of a ``rsu simulate air-station`` recording. The message format is in
:mod:`rsu.sources.air_station.message` and docs/air-station.md.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from rsu_sdk import Product

from rsu.sources.air_station.common import Backoff, InputState
from rsu.sources.air_station.message import SCHEMA, MessageError, parse_message, reading_to_message

if TYPE_CHECKING:
    from rsu.config.sources import AirStationSourceConfig

__all__ = ["SCHEMA", "AirStationSource", "MessageError", "parse_message", "reading_to_message"]

log = logging.getLogger(__name__)


class AirStationSource:
    """A host source: ``run(emit, stop)`` blocks until ``stop`` is set (or a replay ends); never raises.

    :param config: the ``sources[i]`` entry (``type: air_station``).
    """

    def __init__(self, config: AirStationSourceConfig) -> None:
        self.config = config
        self.id = config.id
        self.station = config.station or config.id
        self.state = InputState(config.id)
        self.backoff = Backoff(config.retry_initial_s, config.retry_max_s)

    @property
    def kind(self) -> str:
        return "zmq" if self.config.zmq else "modbus" if self.config.modbus else "replay"

    def run(self, emit: Callable[[Product], None], stop: threading.Event) -> None:
        try:
            if self.config.zmq is not None:
                from rsu.sources.air_station.zmq_input import run_zmq

                run_zmq(self.config.zmq, self.state, self.station, self.backoff, emit, stop)
            elif self.config.modbus is not None:
                from rsu.sources.air_station.modbus_input import run_modbus

                run_modbus(self.config.modbus, self.state, self.station, self.backoff, emit, stop)
            elif self.config.replay is not None:
                from rsu.sources.air_station.replay import run_replay

                run_replay(self.config.replay, self.state, self.station, emit, stop)
        except Exception as exc:  # noqa: BLE001 - last line of defence: report, never crash the box
            log.exception("air-station source %s failed", self.id)
            self.state.lost(emit, f"{type(exc).__name__}: {exc}")

    def stats(self) -> dict[str, Any]:
        return {"kind": self.kind, "station": self.station, **self.state.stats()}
