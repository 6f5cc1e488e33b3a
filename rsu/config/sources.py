"""The ``sources`` section: one entry per input, selected by ``type``.

Each kind of source has its own model here; a ``type`` that none of them claims is a source a plugin
registers (``rsu_register_sources``): its settings are checked against that plugin's schema.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import ConfigDict, Discriminator, Field, Tag

from rsu.config.base import StrictModel

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


class Ars408SourceConfig(SourceBase):
    """A Continental ARS408 radar object list over CAN (python-can)."""

    type: Literal["ars408"]
    interface: str = Field(default="socketcan", description="python-can interface: socketcan, virtual, ...")
    channel: str = "can0"
    bitrate: int = Field(default=500_000, gt=0)


class UdpRadarSourceConfig(SourceBase):
    """A radar object list as JSON datagrams over UDP (schema in docs/wire-format.md)."""

    type: Literal["radar_udp"]
    host: str = "127.0.0.1"
    port: int = Field(gt=0, lt=65536)


class PluginSourceConfig(SourceBase):
    """A source kind registered by a plugin; its other keys are that plugin's business."""

    model_config = ConfigDict(extra="allow", frozen=True)
    type: str = Field(min_length=1)


BUILTIN_SOURCE_TYPES: dict[str, type[SourceBase]] = {
    "camera": CameraSourceConfig,
    "ars408": Ars408SourceConfig,
    "radar_udp": UdpRadarSourceConfig,
}


def _source_tag(value: Any) -> str:
    kind = value.get("type") if isinstance(value, dict) else getattr(value, "type", None)
    return kind if kind in BUILTIN_SOURCE_TYPES else "plugin"


SourceConfig = Annotated[
    Annotated[CameraSourceConfig, Tag("camera")]
    | Annotated[Ars408SourceConfig, Tag("ars408")]
    | Annotated[UdpRadarSourceConfig, Tag("radar_udp")]
    | Annotated[PluginSourceConfig, Tag("plugin")],
    Discriminator(_source_tag),
]
