"""The table of source types, once: what the plugin manager collected from ``rsu_register_sources`` — the host's
own types (registered by the built-in plugin :class:`rsu.sources.builtin.BuiltinSources`) and the kinds plugins
add, through the same hook."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from rsu_sdk import Product, RsuError, SourceSpec

from rsu.app.source_service import Source
from rsu.sources.builtin import builtin_specs

__all__ = ["PluginSource", "build_source", "build_sources", "yields_readings"]

log = logging.getLogger(__name__)

_BUILTIN_READINGS = {spec.kind: spec.readings for spec in builtin_specs()}


def yields_readings(kind: str, table: dict[str, SourceSpec] | None = None) -> bool:
    """True when sources of ``kind`` yield plant readings (or may: a kind not known here)."""
    if table is not None and kind in table:
        return table[kind].readings
    return _BUILTIN_READINGS.get(kind, True)


class PluginSource:
    """Adapts a generator-style :class:`~rsu_sdk.SourceSpec` (``open``) to the host's source API."""

    def __init__(self, source_id: str, spec: SourceSpec, settings: dict[str, Any]) -> None:
        self.id = source_id
        self.spec = spec
        self.settings = settings
        self.emitted = 0
        self.errors = 0

    def run(self, emit: Callable[[Product], None], stop: threading.Event) -> None:
        assert self.spec.open is not None
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


def build_source(src: Any, base_dir: Path, table: dict[str, SourceSpec],
                 where: str) -> tuple[Source | None, str | None]:
    """``(source, None)`` for the source config ``src`` from the source-type ``table``, or ``(None, problem)``
    with the problem as ``<where> (<id>): reason`` or ``<where>.type: ...`` (``where``: ``sources[i]``)."""
    spec = table.get(src.type)
    if spec is None:
        return None, f"{where}.type: unknown source type {src.type!r}; known: {', '.join(table)}"
    try:
        if spec.build is not None:
            settings = src if src.type in _BUILTIN_READINGS else {"id": src.id, **(src.model_extra or {})}
            return spec.build(settings, base_dir), None
        return PluginSource(src.id, spec, dict(src.model_extra or {})), None
    except (OSError, ValueError, RsuError) as exc:
        return None, f"{where} ({src.id}): {exc}"


def build_sources(cfg: Any, base_dir: Path, table: dict[str, SourceSpec],
                  problems: list[str]) -> list[tuple[Any, Source]]:
    """``(source config, source)`` of every enabled source from the source-type ``table``; each problem appended
    as ``sources[i] (id): reason`` or ``sources[i].type: ...``."""
    out: list[tuple[Any, Source]] = []
    for i, src in enumerate(cfg.sources):
        if not src.enabled:
            continue
        source, problem = build_source(src, base_dir, table, f"sources[{i}]")
        if source is not None:
            out.append((src, source))
        if problem is not None:
            problems.append(problem)
    return out
