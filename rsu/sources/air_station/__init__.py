"""Air-quality station source: PM2.5, PM10, temperature, humidity and wind as :class:`SensorReading`.

Inputs (exactly one per source): a ZeroMQ SUB socket with JSON messages, Modbus TCP registers polled at a
rate, or the replay of a ``rsu simulate air-station`` recording. The message format is in
:mod:`rsu.sources.air_station.message` and docs/air-station.md.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from rsu_sdk import Product

from rsu.sources.air_station.common import Backoff, InputState
from rsu.sources.air_station.message import SCHEMA, MessageError, parse_message, reading_to_message
from rsu.sources.bounds import DEFAULT_MAX_CLOCK_SKEW_S, ClockWindow

if TYPE_CHECKING:
    from rsu.config.sources import AirStationSourceConfig

__all__ = ["SCHEMA", "AirStationSource", "MessageError", "parse_message", "reading_to_message"]

log = logging.getLogger(__name__)


class AirStationSource:
    """A host source: ``run(emit, stop)`` blocks until ``stop`` is set (or a replay ends); never raises.

    :param config: the ``sources[i]`` entry (``type: air_station``).
    :param wall_ns: the box clock (live inputs check event times against it; replays publish on it).
    """

    def __init__(self, config: AirStationSourceConfig, *, wall_ns: Callable[[], int] = time.time_ns,
                 monotonic: Callable[[], float] = time.monotonic) -> None:
        self.config = config
        self.id = config.id
        self.station = config.station or config.id
        self.state = InputState(config.id)
        self.backoff = Backoff(config.retry_initial_s, config.retry_max_s)
        self.window = ClockWindow(getattr(config, "max_clock_skew_s", DEFAULT_MAX_CLOCK_SKEW_S), wall_ns)
        self.timeline: Any = None
        self._monotonic = monotonic

    @property
    def kind(self) -> str:
        return "zmq" if self.config.zmq else "modbus" if self.config.modbus else "replay"

    def run(self, emit: Callable[[Product], None], stop: threading.Event) -> None:
        try:
            if self.config.zmq is not None:
                from rsu.sources.air_station.zmq_input import run_zmq

                run_zmq(self.config.zmq, self.state, self.station, self.backoff, emit, stop, self.window)
            elif self.config.modbus is not None:
                from rsu.sources.air_station.modbus_input import run_modbus

                run_modbus(self.config.modbus, self.state, self.station, self.backoff, emit, stop)
            elif self.config.replay is not None:
                from rsu.sources.air_station.replay import run_replay, timeline_for

                self.timeline = timeline_for(self.config.replay, self.window.wall_ns, self._monotonic)
                run_replay(self.config.replay, self.state, self.station, emit, stop, self.timeline)
        except Exception as exc:  # noqa: BLE001 - last line of defence: report, never crash the box
            log.exception("air-station source %s failed", self.id)
            self.state.lost(emit, f"{type(exc).__name__}: {exc}")

    def stats(self) -> dict[str, Any]:
        out = {"kind": self.kind, "station": self.station, **self.state.stats()}
        out.update(self.timeline.stats() if self.timeline is not None else self.window.stats())
        return out
