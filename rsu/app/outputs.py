"""Where every product ends: the ZeroMQ publisher (JSON products) and the plugins."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

from rsu_sdk import Frame, InvalidDataError, Product, PublishError

from rsu.app.stats import RunStats
from rsu.plugins.host import PluginHost
from rsu.publish.payloads import publish_product
from rsu.publish.zmq_publisher import ZmqPublisher

log = logging.getLogger(__name__)


class Outputs:
    """Publishes each product (frames stay on the box) and hands it to the plugins, never blocking."""

    def __init__(self, publisher: ZmqPublisher, plugins: PluginHost, stats: RunStats) -> None:
        self.publisher = publisher
        self.plugins = plugins
        self._stats = stats
        self.taps: list[Callable[[Product], None]] = []  # e.g. the dashboard's live state, metrics counters

    def deliver(self, product: Product) -> None:
        """Publish what the host made; products a plugin emitted go to the other plugins only (the plugin
        publishes what it wants published itself, on the topics it chooses)."""
        if not isinstance(product, Frame) and self.plugins.origin_of(product) is None:
            try:
                publish_product(self.publisher, product)
            except (InvalidDataError, PublishError) as exc:
                self._stats.count("publish", "invalid")
                log.warning("not published: %s", exc)
            else:
                self._stats.latency(type(product).__name__, int(product.t_event_ns), time.time_ns())
        self.plugins.dispatch(product)
        for tap in self.taps:  # cheap observers; one that raises is counted, never stops the router
            try:
                tap(product)
            except Exception:  # noqa: BLE001
                self._stats.count("taps", "errors")
                log.exception("output tap %r failed on a %s", tap, type(product).__name__)

    def stop_plugins(self) -> None:
        self.plugins.stop()

    def close(self) -> None:
        self.publisher.close()

    def stats(self) -> dict[str, Any]:
        return {"publish": self.publisher.stats(), "plugins": self.plugins.stats()}
