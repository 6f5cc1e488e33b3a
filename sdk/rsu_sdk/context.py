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
    """Publishes payloads on the box's ZeroMQ bus (the host owns the socket; plugins never open their own).

    For what is *not* an SDK product: a plugin's own products and binary bodies. An SDK product (an
    ``Alarm``, an ``ActuationCommand``, ...) goes to :attr:`PluginContext.emit` instead, which publishes it.
    The host wraps ``data`` in the versioned envelope of the wire format (``schema``, ``site``, ``source``,
    ``seq``, ``t_event``, ``t_publish``) and sends it on topic ``rsu/<site>/<product>[/<source>]``; names
    follow :mod:`rsu_sdk.topics` (else :class:`~rsu_sdk.PublishError`). Calls never block on the network; a
    message that cannot be queued is counted as dropped.
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
    """The site the box serves: its name and the WGS84 origin of the ENU frame.

    :param name: ``site.name`` of the config; the second topic level (``rsu/<name>/...``).
    :param lat: WGS84 latitude of the origin, degrees.
    :param lon: WGS84 longitude of the origin, degrees.
    :param alt: altitude of the origin, m.
    """

    name: str
    lat: float
    lon: float
    alt: float = 0.0


@dataclass(frozen=True, slots=True, kw_only=True)
class PluginContext:
    """Everything a plugin gets in :func:`rsu_sdk.hookspecs.rsu_on_start`.

    :param name: the plugin's name as enabled in the config (its entry point name).
    :param site: the site the box serves (name and ENU origin).
    :param config: the plugin's validated settings (``plugins.<name>`` in the config), read-only.
    :param publisher: publishes payloads that are **not** SDK products (the plugin's own products, e.g.
        ``zone_count``, or binary bodies such as UPER-encoded V2X messages) through the host's bus.
    :param emit: hands an SDK product (:data:`~rsu_sdk.types.Product`: an ``Alarm``, an ``ActuationCommand``,
        an ``ActuationOutcome``, a ``Prediction``, ...) to the host. The host then both **publishes** it with
        its own payload code (:mod:`rsu_sdk.payloads`) on ``rsu/<site>/<product>/<source>`` (e.g. an
        ``Alarm`` with ``source="furnace-2"`` on ``rsu/<site>/fault/furnace-2``, schema ``rsu.fault.alarm/1``)
        and **routes** it to the other plugins' hooks (never back to the emitter). So a plugin never builds the
        wire payload of a product it emits, and never publishes it a second time through ``publisher``.
        Callable from any thread; never blocks on the network.
    :param logger: the plugin's logger, ``rsu.plugin.<name>``; shown by ``rsu -v run``.
    :param state_dir: a folder the plugin may keep state in across restarts, or None when the box keeps none.
    """

    name: str
    site: SiteInfo
    config: Mapping[str, Any]
    publisher: Publisher
    emit: Callable[[Product], None]
    logger: logging.Logger
    state_dir: Path | None = None
