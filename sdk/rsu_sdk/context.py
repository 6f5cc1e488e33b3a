"""What the host hands a plugin at start-up: its settings, a publisher and an emitter."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from rsu_sdk.types import Product

__all__ = ["Publisher", "PluginContext", "SiteInfo"]


@runtime_checkable
class Publisher(Protocol):
    """Publishes products on the box's ZeroMQ bus (the host owns the socket; plugins never open their own).

    The host wraps ``data`` in the versioned envelope of the wire format (``schema``, ``site``, ``source``,
    ``seq``, ``t_event``, ``t_publish``) and sends it on topic ``rsu/<site>/<product>[/<source>]``.
    Calls never block on the network; a message that cannot be queued is counted as dropped.
    """

    def publish(
        self,
        product: str,
        data: Mapping[str, Any],
        *,
        source: str | None = None,
        t_event_ns: int | None = None,
        schema: str | None = None,
    ) -> None:
        """Publish a JSON payload. ``product`` is e.g. ``fault`` or ``actuation``; ``source`` adds a topic level."""

    def publish_binary(
        self,
        product: str,
        header: Mapping[str, Any],
        body: bytes,
        *,
        source: str | None = None,
        t_event_ns: int | None = None,
        schema: str | None = None,
    ) -> None:
        """Publish ``[topic, JSON header, binary body]``, e.g. a UPER-encoded V2X message."""


@dataclass(frozen=True, slots=True, kw_only=True)
class SiteInfo:
    """The site the box serves: its name and the WGS84 origin of the ENU frame."""

    name: str
    lat: float
    lon: float
    alt: float = 0.0


@dataclass(frozen=True, slots=True, kw_only=True)
class PluginContext:
    """Everything a plugin gets in :func:`rsu_sdk.hookspecs.rsu_on_start`.

    :param name: the plugin's name as enabled in the config.
    :param config: the plugin's validated settings (``plugins.<name>`` in the config), read-only.
    :param publisher: publish products through the host's bus.
    :param emit: hand a product back to the host, which dispatches it to the other plugins
        (e.g. an :class:`~rsu_sdk.types.Alarm` or an :class:`~rsu_sdk.types.ActuationOutcome`).
    :param state_dir: a folder the plugin may keep state in across restarts, or None.
    """

    name: str
    site: SiteInfo
    config: Mapping[str, Any]
    publisher: Publisher
    emit: Callable[[Product], None]
    logger: logging.Logger
    state_dir: Path | None = None
