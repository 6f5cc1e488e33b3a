"""The host's own source types, registered through the same hook as a plugin's (``rsu_register_sources``).

The built-in plugin :class:`BuiltinSources` is loaded by the plugin manager like any plugin, always enabled; each
type's config model is in :mod:`rsu.config.sources` (``BUILTIN_SOURCE_TYPES``, the same keys: a test checks).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rsu_sdk import Detections, Frame, RadarScan, SensorReading, SourceSpec, hookimpl

__all__ = ["BuiltinSources", "SourceProblem", "builtin_specs", "local_path"]


class SourceProblem(ValueError):
    """A source cannot be built; the message says why (prefixed with its key path by the caller)."""


def local_path(value: str, base_dir: Path) -> Path | None:
    """``value`` as a local file path (relative ones against ``base_dir``), or None for URLs and devices."""
    if "://" in value or value.startswith(("gst:", "/dev/")) or value.isdigit() or " ! " in value:
        return None
    path = Path(value).expanduser()
    return path if path.is_absolute() else (base_dir / path)


def _camera(src: Any, base_dir: Path) -> Any:
    from rsu.sources.camera import CameraSource

    path = local_path(src.url, base_dir)
    if path is not None:
        if not path.exists():
            raise SourceProblem(f"camera file not found: {path}")
        src = src.model_copy(update={"url": str(path)})
    return CameraSource(src)


def _ars408(src: Any, base_dir: Path) -> Any:
    from rsu.sources.ars408.source import Ars408Source

    return Ars408Source.from_config(src)


def _radar_udp(src: Any, base_dir: Path) -> Any:
    from rsu.sources.radar_udp import UdpRadarSource

    return UdpRadarSource.from_config(src)


def _replay(src: Any, base_dir: Path) -> Any:
    from rsu.sources.replay import ReplaySource

    path = local_path(src.path, base_dir) or Path(src.path)
    if not path.is_dir():
        raise SourceProblem(f"recording folder not found: {path} "
                            f"(make one with: rsu simulate intersection --out {src.path})")
    return ReplaySource.from_config(src.model_copy(update={"path": str(path)}))


def _sensor_replay(src: Any, base_dir: Path) -> Any:
    from rsu.sources.sensor_replay import SensorReplaySource

    path = local_path(src.path, base_dir) or Path(src.path)
    if not path.exists():
        raise SourceProblem(f"recording not found: {path} (make one with: rsu simulate furnace --out {src.path})")
    return SensorReplaySource(src.id, path, speed=src.speed, rebase_time=src.rebase_time, loop=src.loop)


def _air_station(src: Any, base_dir: Path) -> Any:
    from rsu.sources.air_station import AirStationSource

    return AirStationSource(src)


_BUILTIN: tuple[tuple[str, Any, bool, tuple[type, ...], str], ...] = (
    ("camera", _camera, False, (Frame,), "OpenCV camera: file, RTSP, V4L2 or GStreamer; newest frame, reconnects"),
    ("ars408", _ars408, False, (RadarScan,), "Continental ARS408 radar over CAN (python-can)"),
    ("radar_udp", _radar_udp, False, (RadarScan,), "radar object lists as JSON datagrams over UDP"),
    ("replay", _replay, False, (Detections, RadarScan),
     "a recorded intersection: camera detections and ARS408 CAN frames"),
    ("sensor_replay", _sensor_replay, True, (SensorReading,), "recorded plant sensor readings (CSV)"),
    ("air_station", _air_station, True, (SensorReading,), "air-quality stations over ZeroMQ, Modbus or a recording"),
)


def builtin_specs() -> list[SourceSpec]:
    """The records :class:`BuiltinSources` registers."""
    return [SourceSpec(kind=kind, build=build, readings=readings, produces=produces, description=text)
            for kind, build, readings, produces, text in _BUILTIN]


class BuiltinSources:
    """The built-in plugin that registers the host's own source types."""

    @hookimpl
    def rsu_register_sources(self) -> list[SourceSpec]:
        return builtin_specs()
