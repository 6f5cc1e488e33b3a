"""The table of source types, once: each built-in type's factory, and the kinds plugins register.

``rsu/config/sources.py`` holds the config model of each built-in type (same keys: a test checks both tables
agree); plugin kinds come from ``rsu_register_sources`` and run through :class:`PluginSource`.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rsu_sdk import Product, RsuError, SourceSpec

from rsu.app.source_service import Source

__all__ = ["BUILTIN_SOURCES", "PluginSource", "SourceType", "build_sources", "local_path", "yields_readings"]

log = logging.getLogger(__name__)


class SourceProblem(Exception):
    """A source cannot be built; the message says why (prefixed with its key path by the caller)."""


def local_path(value: str, base_dir: Path) -> Path | None:
    """``value`` as a local file path (relative ones against ``base_dir``), or None for URLs and devices."""
    if "://" in value or value.startswith(("gst:", "/dev/")) or value.isdigit() or " ! " in value:
        return None
    path = Path(value).expanduser()
    return path if path.is_absolute() else (base_dir / path)


def _camera(src: Any, base_dir: Path) -> Source:
    from rsu.sources.camera import CameraSource

    path = local_path(src.url, base_dir)
    if path is not None:
        if not path.exists():
            raise SourceProblem(f"camera file not found: {path}")
        src = src.model_copy(update={"url": str(path)})
    return CameraSource(src)


def _ars408(src: Any, base_dir: Path) -> Source:
    from rsu.sources.ars408.source import Ars408Source

    return Ars408Source.from_config(src)


def _radar_udp(src: Any, base_dir: Path) -> Source:
    from rsu.sources.radar_udp import UdpRadarSource

    return UdpRadarSource.from_config(src)


def _replay(src: Any, base_dir: Path) -> Source:
    from rsu.sources.replay import ReplaySource

    path = local_path(src.path, base_dir) or Path(src.path)
    if not path.is_dir():
        raise SourceProblem(f"recording folder not found: {path} "
                            f"(make one with: rsu simulate intersection --out {src.path})")
    return ReplaySource.from_config(src.model_copy(update={"path": str(path)}))


def _sensor_replay(src: Any, base_dir: Path) -> Source:
    from rsu.sources.sensor_replay import SensorReplaySource

    path = local_path(src.path, base_dir) or Path(src.path)
    if not path.exists():
        raise SourceProblem(f"recording not found: {path} (make one with: rsu simulate furnace --out {src.path})")
    return SensorReplaySource(src.id, path, speed=src.speed, rebase_time=src.rebase_time, loop=src.loop)


def _air_station(src: Any, base_dir: Path) -> Source:
    from rsu.sources.air_station import AirStationSource

    return AirStationSource(src)


@dataclass(frozen=True, slots=True)
class SourceType:
    """A built-in source type: how to build it, and whether it yields plant readings (fault prediction)."""

    kind: str
    build: Callable[[Any, Path], Source]
    readings: bool = False


BUILTIN_SOURCES: dict[str, SourceType] = {t.kind: t for t in (
    SourceType("camera", _camera),
    SourceType("ars408", _ars408),
    SourceType("radar_udp", _radar_udp),
    SourceType("replay", _replay),
    SourceType("sensor_replay", _sensor_replay, readings=True),
    SourceType("air_station", _air_station, readings=True),
)}


def yields_readings(kind: str) -> bool:
    """True when sources of ``kind`` yield plant readings (or may: every kind a plugin registers)."""
    builtin = BUILTIN_SOURCES.get(kind)
    return builtin.readings if builtin is not None else True


class PluginSource:
    """Adapts a plugin's :class:`~rsu_sdk.SourceSpec` (a generator of products) to the host's source API."""

    def __init__(self, source_id: str, spec: SourceSpec, settings: dict[str, Any]) -> None:
        self.id = source_id
        self.spec = spec
        self.settings = settings
        self.emitted = 0
        self.errors = 0

    def run(self, emit: Callable[[Product], None], stop: threading.Event) -> None:
        try:
            products: Iterator[Product] = iter(self.spec.open(self.settings, stop.is_set))
            for product in products:
                emit(product)
                self.emitted += 1
                if stop.is_set():
                    break
        except Exception:  # a plugin's source must not take the box down
            self.errors += 1
            log.exception("source %s (plugin kind %s) failed", self.id, self.spec.kind)

    def stats(self) -> dict[str, Any]:
        return {"kind": self.spec.kind, "emitted": self.emitted, "errors": self.errors}


def build_sources(cfg: Any, base_dir: Path, plugin_kinds: dict[str, SourceSpec],
                  problems: list[str]) -> list[tuple[Any, Source]]:
    """``(source config, source)`` of every enabled source; each problem appended as ``sources[i].key: reason``."""
    out: list[tuple[Any, Source]] = []
    for i, src in enumerate(cfg.sources):
        if not src.enabled:
            continue
        where = f"sources[{i}] ({src.id})"
        builtin = BUILTIN_SOURCES.get(src.type)
        try:
            if builtin is not None:
                out.append((src, builtin.build(src, base_dir)))
            elif src.type in plugin_kinds:
                settings = dict(src.model_extra or {})
                out.append((src, PluginSource(src.id, plugin_kinds[src.type], settings)))
            else:
                known = [*BUILTIN_SOURCES, *sorted(plugin_kinds)]
                problems.append(f"sources[{i}].type: unknown source type {src.type!r}; known: {', '.join(known)}")
        except (SourceProblem, OSError, ValueError, RsuError) as exc:
            problems.append(f"{where}: {exc}")
    return out
