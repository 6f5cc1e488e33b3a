"""Where every product ends: the ZeroMQ publisher (JSON products), Kafka when configured, and the plugins."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from rsu_sdk import Frame, InvalidDataError, Product, PublishError

from rsu.core.clock import SYSTEM_CLOCK, Clock
from rsu.core.stats import RunStats
from rsu.plugins.host import PluginHost
from rsu.publish.payloads import PRODUCT_OF, publish_product
from rsu.publish.zmq_publisher import ZmqPublisher

log = logging.getLogger(__name__)

__all__ = ["Outputs"]


class Outputs:
    """Publishes each product (frames stay on the box) and hands it to the plugins, never blocking.

    Products a plugin emitted (``context.emit``) are published the same way, with the host's payload code,
    and go to every plugin but the one that emitted them.
    """

    def __init__(self, publisher: ZmqPublisher, plugins: PluginHost, stats: RunStats, *,
                 clock: Clock = SYSTEM_CLOCK, kafka: Any = None) -> None:
        self.publisher = publisher
        self.kafka = kafka  # rsu.publish.kafka_output.KafkaOutput when publish.kafka is configured
        self.plugins = plugins
        self._stats = stats
        self._clock = clock
        self.taps: list[Callable[[Product], None]] = []  # e.g. the dashboard's live state, metrics counters

    def deliver(self, product: Product, origin: str) -> None:
        if not isinstance(product, Frame):
            try:
                publish_product(self.publisher, product)
            except (InvalidDataError, PublishError) as exc:
                self._stats.count("publish", "invalid")
                log.warning("not published: %s", exc)
            else:
                self._stats.latency(type(product).__name__, int(product.t_event_ns), self._clock.wall_ns())
            if self.kafka is not None and self.kafka.wants(PRODUCT_OF[type(product)][0]):
                try:
                    publish_product(self.kafka, product)
                except (InvalidDataError, PublishError) as exc:
                    self._stats.count("kafka", "invalid")
                    log.warning("not produced to Kafka: %s", exc)
        exclude = origin[len("plugin:"):] if origin.startswith("plugin:") else None
        self.plugins.dispatch(product, exclude=exclude)
        for tap in self.taps:  # cheap observers; one that raises is counted, never stops the router
            try:
                tap(product)
            except Exception:  # noqa: BLE001
                self._stats.count("taps", "errors")
                log.exception("output tap %r failed on a %s", tap, type(product).__name__)

    def stop_plugins(self) -> None:
        self.plugins.stop()

    def close(self) -> None:
        if self.kafka is not None:
            self.kafka.close()  # what the broker has not acknowledged stays in the journal
        self.publisher.close()

    def stats(self) -> dict[str, Any]:
        out = {"publish": self.publisher.stats(), "plugins": self.plugins.stats()}
        if self.kafka is not None:
            out["kafka"] = self.kafka.stats()
        return out
