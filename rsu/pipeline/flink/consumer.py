"""The host side of the Kafka-fed job: a box Source that reads the result topics and yields SDK products.

:class:`ResultSource` subscribes (``isolation.level=read_committed``: only what the job's checkpoints
committed, so each result once) to ``<output_prefix>.<product>`` and hands each decoded product to ``emit``:
in a box that is the route to the ZeroMQ publisher and the plugins, so subscribers see the same wire format
whichever runner ran. A record that does not decode is counted (``bad``) and skipped; a repeat (the job's
at-least-once mode after a restart) is dropped by its record key and ``seq`` (``repeats``). It keeps its group's
offsets in Kafka (committed after emit), so a restarted box goes on where it stopped.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from rsu_sdk import Product

from rsu.core.stats import LatencyReservoir
from rsu.pipeline.flink.records import RecordError, from_parsed, parse_envelope

__all__ = ["ResultSource", "result_topics"]

log = logging.getLogger(__name__)


def result_topics(output_prefix: str, products: Sequence[str] = ("objects", "fault")) -> list[str]:
    return [f"{output_prefix}.{p.replace('/', '.')}" for p in products]


class ResultSource:
    """A box source (``run(emit, stop)``, ``stats()``) over the job's result topics.

    :param bootstrap_servers: the brokers.
    :param topics: the result topics (:func:`result_topics`).
    :param group_id: the consumer group (default: a fresh one per instance, from the earliest offset).
    :param client: extra librdkafka settings (security ...).
    :param drop_repeats: drop a result whose ``seq`` its (boot, record key) already passed, counted
        ``repeats``: with the job's ``delivery: at_least_once`` subscribers still get each result once.
    """

    def __init__(self, source_id: str, bootstrap_servers: str, topics: Sequence[str], *,
                 group_id: str | None = None, offset_reset: str = "earliest",
                 client: Mapping[str, Any] | None = None, poll_s: float = 0.2, drop_repeats: bool = True) -> None:
        if not topics:
            raise ValueError(f"source {source_id}: no result topics given")
        self.id = source_id
        self.topics = list(topics)
        self.settings = {"bootstrap.servers": bootstrap_servers, "group.id": group_id or f"rsu-results-"
                         f"{uuid.uuid4().hex[:8]}", "isolation.level": "read_committed",
                         "auto.offset.reset": offset_reset, "enable.auto.commit": True,
                         "enable.auto.offset.store": False, **dict(client or {})}
        self.poll_s = poll_s
        self.drop_repeats = drop_repeats
        self._last_seq: dict[tuple[str, bytes], int] = {}
        self.counts: Counter[str] = Counter()
        self.per_topic: Counter[str] = Counter()
        self.job_to_host = LatencyReservoir()
        self._lock = threading.Lock()

    def run(self, emit: Callable[[Product], None], stop: threading.Event) -> None:
        """Hand every result to ``emit`` until ``stop`` is set."""
        from confluent_kafka import Consumer

        consumer = Consumer(self.settings)
        consumer.subscribe(self.topics)
        try:
            while not stop.is_set():
                msg = consumer.poll(self.poll_s)
                if msg is None:
                    continue
                if msg.error() is not None:
                    with self._lock:
                        self.counts["errors"] += 1
                    continue
                self._handle(msg, emit)
                consumer.store_offsets(msg)
        finally:
            consumer.close()

    def _repeat(self, msg: Any, boot: str, seq: int) -> bool:
        """True when this (boot, record key) already handed on ``seq`` or a later one: an at-least-once job
        restarted from a checkpoint writes again what it wrote since (same key, same seq, same product)."""
        key = (boot, msg.key() or b"")
        last = self._last_seq.get(key)
        if last is not None and seq <= last:
            return True
        self._last_seq[key] = seq
        return False

    def _handle(self, msg: Any, emit: Callable[[Product], None]) -> None:
        now = time.time_ns()
        try:
            where = f"{msg.topic()}[{msg.partition()}]@{msg.offset()}"
            head = parse_envelope(msg.value(), where)
            _, product, t_publish = from_parsed(head, where)
        except RecordError as exc:
            with self._lock:
                self.counts["bad"] += 1
                bad = self.counts["bad"]
            if bad <= 5:
                log.warning("skipped: %s", exc)
            return
        seq = head.get("seq")
        if self.drop_repeats and isinstance(seq, int) and self._repeat(msg, str(head.get("boot", "")), seq):
            with self._lock:
                self.counts["repeats"] += 1
            return
        with self._lock:
            self.counts["received"] += 1
            self.per_topic[msg.topic()] += 1
            if t_publish:
                self.job_to_host.add((now - t_publish) / 1e6)
        try:
            emit(product)
        except Exception:
            with self._lock:
                self.counts["emit_errors"] += 1
            log.exception("%s: handing a %s on failed", self.id, type(product).__name__)

    def stats(self) -> dict[str, Any]:
        with self._lock:
            return {"type": "flink_results", "topics": self.topics, **self.counts, "per_topic": dict(self.per_topic),
                    "job_to_host_ms": self.job_to_host.percentiles()}
