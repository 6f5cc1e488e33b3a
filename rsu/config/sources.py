"""The ``sources`` section: one entry per input, selected by ``type``.

Each kind of source has its own model here; a ``type`` that none of them claims is a source a plugin
registers (``rsu_register_sources``): its settings are checked against that plugin's schema.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import ConfigDict, Discriminator, Field, Tag, model_validator

from rsu.config.base import StrictModel
from rsu.config.air_station import AirStationModbusConfig, AirStationReplayConfig, AirStationZmqConfig
from rsu.config.fusion import RadarPose
from rsu.config.hosts import Host

SOURCE_ID = r"^[A-Za-z0-9][A-Za-z0-9_.-]*$"


class SourceBase(StrictModel):
    id: str = Field(pattern=SOURCE_ID, description="unique source id; the last topic level of its products")
    enabled: bool = True


class CameraSourceConfig(SourceBase):
    """An OpenCV capture: a file path, ``rtsp://`` URL, V4L2 device (``/dev/video0`` or an index) or a
    GStreamer pipeline string (``gst:...``)."""

    type: Literal["camera"]
    url: str = Field(min_length=1)
    fps: float | None = Field(default=None, gt=0, description="rate to process; None = the stream's own")
    loop: bool = Field(default=False, description="files: start again at the end instead of stopping")
    policy: Literal["latest", "queue"] = Field(
        default="latest", description="latest: keep only the newest frame (drops counted); queue: lossless, bounded")
    queue_size: int = Field(default=8, gt=0, description="frames buffered with policy 'queue'")
    realtime: bool = Field(default=True, description="files: deliver at the file's (or fps) rate, like a camera")
    reconnect: bool = Field(default=True, description="reopen a dropped or unopenable stream with backoff")
    backoff_initial_s: float = Field(default=0.5, gt=0)
    backoff_max_s: float = Field(default=30.0, gt=0)
    max_bad_reads: int = Field(default=25, gt=0, description="consecutive failed reads that mean the stream dropped")
    open_timeout_s: float = Field(default=10.0, gt=0)


class Ars408SourceConfig(SourceBase):
    """A Continental ARS408 radar object list over CAN (python-can)."""

    type: Literal["ars408"]
    interface: str = Field(default="socketcan", description="python-can interface: socketcan, virtual, ...")
    channel: str = "can0"
    bitrate: int = Field(default=500_000, gt=0)
    pose: RadarPose | None = Field(default=None, description="mounting pose (or give it in fusion.radars)")
    silence_s: float = Field(default=1.0, gt=0, description="no complete cycle for this long -> health 'down'")
    max_clock_skew_s: float = Field(default=60.0, gt=0,
                                    description="event times further than this from the box clock are rejected")


class UdpRadarSourceConfig(SourceBase):
    """A radar object list as JSON datagrams over UDP (schema in docs/wire-format.md)."""

    type: Literal["radar_udp"]
    host: Host = Field(default="127.0.0.1", description="address to listen on")
    port: int = Field(gt=0, lt=65536)
    pose: RadarPose | None = Field(default=None, description="mounting pose (or give it in fusion.radars)")
    silence_s: float = Field(default=1.0, gt=0, description="no datagram for this long -> health 'down'")
    max_clock_skew_s: float = Field(default=60.0, gt=0,
                                    description="event times further than this from the box clock are rejected")


class ReplaySourceConfig(SourceBase):
    """A recording of ``rsu simulate`` (camera detections + ARS408 CAN log), replayed in event-time order."""

    type: Literal["replay"]
    path: str = Field(min_length=1, description="the recording folder")
    speed: float = Field(default=1.0, ge=0, description="1.0 = real time, 2.0 = twice as fast, 0 = no pacing")
    camera: bool = Field(default=True, description="replay the camera detections")
    radar: bool = Field(default=True, description="replay the radar CAN log through the ARS408 decoder")
    rebase_time: bool = Field(default=False, description="shift event times so the recording starts now")
    loop: bool = False


class AirStationSourceConfig(SourceBase):
    """An air-quality station (PM2.5, PM10, temperature, humidity, wind): exactly one of ``zmq``, ``modbus``
    or ``replay``."""

    type: Literal["air_station"]
    station: str | None = Field(default=None, pattern=SOURCE_ID,
                                description="device id of the readings; default: the source id")
    zmq: AirStationZmqConfig | None = None
    modbus: AirStationModbusConfig | None = None
    replay: AirStationReplayConfig | None = None
    retry_initial_s: float = Field(default=0.5, gt=0, description="first reconnect delay, doubled per failure")
    retry_max_s: float = Field(default=30.0, gt=0)
    max_clock_skew_s: float = Field(default=60.0, gt=0,
                                    description="event times further than this from the box clock are rejected")

    @model_validator(mode="after")
    def _one_input(self) -> AirStationSourceConfig:
        given = [k for k in ("zmq", "modbus", "replay") if getattr(self, k) is not None]
        if len(given) != 1:
            raise ValueError(f"give exactly one of zmq, modbus, replay (got {', '.join(given) or 'none'})")
        return self


class SensorReplaySourceConfig(SourceBase):
    """Recorded plant readings (``rsu simulate furnace``): a CSV or JSONL file, or a folder with readings.csv."""

    type: Literal["sensor_replay"]
    path: str = Field(min_length=1, description="relative paths are from the working directory")
    speed: float = Field(default=1.0, ge=0, description="1.0 = real time, 2.0 = twice as fast, 0 = no pacing")
    rebase_time: bool = Field(default=False, description="shift event times so the recording starts now")
    loop: bool = False


class PluginSourceConfig(SourceBase):
    """A source kind registered by a plugin; its other keys are that plugin's business."""

    model_config = ConfigDict(extra="allow", frozen=True)
    type: str = Field(min_length=1)


BUILTIN_SOURCE_TYPES: dict[str, type[SourceBase]] = {
    "camera": CameraSourceConfig,
    "ars408": Ars408SourceConfig,
    "radar_udp": UdpRadarSourceConfig,
    "replay": ReplaySourceConfig,
    "air_station": AirStationSourceConfig,
    "sensor_replay": SensorReplaySourceConfig,
}


SOURCE_TAGS: frozenset[str] = frozenset({*BUILTIN_SOURCE_TYPES, "plugin"})
"""The branch names pydantic puts in an error's location after ``sources[i]`` (not keys a user wrote)."""

MISSING_TYPE_ERROR = "source_type_missing"
"""The pydantic error type of a source entry without ``type`` (reported as ``sources[i].type``)."""


def _source_tag(value: Any) -> str | None:
    if isinstance(value, dict):
        kind = value.get("type")
        if kind is None:
            return None  # -> MISSING_TYPE_ERROR
    else:
        kind = getattr(value, "type", None)
    return kind if isinstance(kind, str) and kind in BUILTIN_SOURCE_TYPES else "plugin"


SourceConfig = Annotated[
    Annotated[CameraSourceConfig, Tag("camera")]
    | Annotated[Ars408SourceConfig, Tag("ars408")]
    | Annotated[UdpRadarSourceConfig, Tag("radar_udp")]
    | Annotated[ReplaySourceConfig, Tag("replay")]
    | Annotated[AirStationSourceConfig, Tag("air_station")]
    | Annotated[SensorReplaySourceConfig, Tag("sensor_replay")]
    | Annotated[PluginSourceConfig, Tag("plugin")],
    Discriminator(_source_tag, custom_error_type=MISSING_TYPE_ERROR, custom_error_message="required key is missing"),
]
