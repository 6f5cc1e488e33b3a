"""The box as a Kafka producer: the products, as the same v1 JSON payloads as ZeroMQ, one topic per product.

:class:`KafkaOutput` implements :class:`rsu_sdk.Publisher` (``publish`` / ``publish_binary``), so the host hands
each product to it exactly as to the ZeroMQ publisher (``rsu.publish.payloads.publish_product``). Per record:

- topic ``<topic_prefix>.<product with / as .>`` (``rsu.objects``, ``rsu.v2x.cpm``); products not listed in
  ``publish.kafka.products`` are skipped;
- key = the operator key (:func:`operator_key`): the ``device`` of sensor readings and fault products (the fault
  windows are keyed by device), else the site (the fusion inputs are keyed by site), so per-key order is
  per-partition order;
- value = the v1 envelope (:func:`rsu.publish.zmq_publisher.envelope_head` / ``join_envelope``) with ``seq``
  per ``rsu/<site>/<product>[/<source>]`` as on ZeroMQ; a binary body (``publish_binary``) travels in the Kafka
  header ``rsu-body``;
- an idempotent producer (``enable.idempotence``, ``acks=all``, retried without a time limit), so a broker
  outage neither reorders nor duplicates records within a run.

Store and forward: records go straight to the client while the broker acknowledges them and fewer than
``max_in_flight`` wait for it; otherwise (broker unreachable, or slow; also at start until the first
acknowledgement) they go to the disk journal (:mod:`rsu.publish.journal`: bounded, low priority dropped first,
safety never) and a sender thread replays the journal in order as the broker takes them (while the broker is
away it keeps only a few records with the client, which tell it when the broker is back); while the journal
holds records, new ones queue behind them, so order per key holds across an outage. Records published while :meth:`KafkaOutput.close` runs go to the
journal; records the client still held when it ends are put back into it; a journal left by an earlier run is
replayed first. A record the client refuses for good (e.g. larger than ``message.max.bytes``) is counted as
``failed`` and skipped. A record the disk refuses (full: the journal raises OSError) is counted; a safety one
is handed to the client anyway (``unjournalled_sent_live``), others are ``unjournalled`` (lost, per priority).
"""

from __future__ import annotations

import functools
import logging
import threading
import time
from collections import Counter
from collections.abc import Mapping
from typing import Any

from confluent_kafka import KafkaError, KafkaException, Producer
from rsu_sdk import PublishError

from rsu.config.kafka import KafkaConfig
from rsu.publish.journal import Journal, Record
from rsu.publish.topics import check_source, default_schema, topic_for
from rsu.publish.uplink import priority_of
from rsu.publish.zmq_publisher import _check_time, _encode_data, envelope_head, join_envelope

__all__ = ["KafkaOutput", "kafka_topic", "operator_key", "BODY_HEADER"]

log = logging.getLogger(__name__)

BODY_HEADER = "rsu-body"
_POLL_S = 0.05
_OFFLINE_PROBES = 16
_PURGED = {KafkaError._PURGE_QUEUE, KafkaError._PURGE_INFLIGHT}


def _event_ms(value: bytes) -> int:
    """The record timestamp: the envelope's ``t_event`` in ms (event time, so a Flink KafkaSource keeps
    per-partition event-time watermarks without parsing the payload); 0 (the broker's time) when absent."""
    i = value.find(b'"t_event":')
    if i < 0:
        return 0
    j = value.find(b",", i + 10)
    try:
        return int(value[i + 10:j]) // 1_000_000
    except ValueError:
        return 0


def kafka_topic(product: str, prefix: str = "rsu") -> str:
    """``rsu.objects`` for ``objects``, ``rsu.v2x.cpm`` for ``v2x/cpm``."""
    return f"{prefix}.{product.replace('/', '.')}"


def operator_key(site: str, data: Mapping[str, Any]) -> str:
    """What the operators key on: the ``device`` of a reading or fault product, else the site."""
    device = data.get("device")
    return device if isinstance(device, str) and device else site


class KafkaOutput:
    """Produces the box's products to Kafka; see the module docstring.

    :param site: ``site.name``, the envelope's ``site`` and the key of site-keyed products.
    :param cfg: ``publish.kafka``.
    :param default_source: the envelope's ``source`` when ``publish`` names none.
    """

    def __init__(self, site: str, cfg: KafkaConfig, *, default_source: str = "rsu") -> None:
        self.site, self.cfg = site, cfg
        self.default_source = check_source(default_source)
        self._products = None if cfg.products is None else frozenset(cfg.products)
        self._journal = Journal(cfg.journal.dir, max_bytes=cfg.journal.max_bytes,
                                segment_bytes=cfg.journal.segment_bytes)
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._closed = False  # close() began: new records go to the journal
        self._finished = False  # the journal is closed: new records are dropped (counted)
        self._online = False  # unknown until the broker acknowledges a record: journal first
        self._in_flight = 0
        self._live: dict[int, Record] = {}  # sent straight to the client, not yet acknowledged
        self._seq: Counter[str] = Counter()
        self._heads: dict[tuple[str, str | None, str | None], tuple[str, bytes]] = {}
        self._n: Counter[str] = Counter()
        self._journalled: Counter[str] = Counter()
        self._delivered: Counter[str] = Counter()
        self._failed: Counter[str] = Counter()
        self._unjournaled_lost: Counter[str] = Counter()
        settings: dict[str, Any] = {
            "bootstrap.servers": cfg.bootstrap_servers, "enable.idempotence": True, "acks": "all",
            "message.timeout.ms": 0, "linger.ms": cfg.linger_ms, "client.id": f"rsu-{site}",
            "queue.buffering.max.messages": max(2 * cfg.max_in_flight, 1000), "error_cb": self._on_error,
            "log_level": 2,  # connection failures come once through error_cb, not every retry as log lines
            **cfg.client,
        }
        try:
            self._producer = Producer(settings, logger=logging.getLogger("rsu.kafka.client"))
        except KafkaException as exc:
            self._journal.close()
            raise PublishError(f"publish.kafka: the client refused its settings: {exc}") from None
        self._sender = threading.Thread(target=self._run, name="kafka-sender", daemon=True)
        self._sender.start()
        if len(self._journal):
            log.info("kafka: replaying %d records journalled by an earlier run", len(self._journal))

    @classmethod
    def from_config(cls, config: Any, **kwargs: Any) -> KafkaOutput | None:
        """From a whole :class:`rsu.config.root.RsuConfig`; None when ``publish.kafka`` is not set."""
        cfg = config.publish.kafka
        return None if cfg is None else cls(config.site.name, cfg, **kwargs)

    def wants(self, product: str) -> bool:
        """Whether ``product`` is produced (``publish.kafka.products``, all when unset)."""
        return self._products is None or product in self._products

    # -- Publisher protocol -----------------------------------------------------------------------------------

    def publish(self, product: str, data: Mapping[str, Any], *, source: str | None = None,
                t_event_ns: int | None = None, schema: str | None = None) -> None:
        """Produce ``envelope + data`` on the product's topic; never blocks. PublishError for bad input."""
        if not self.wants(product):
            return
        try:
            zmq_topic, head = self._head(product, source, schema)
            _check_time(t_event_ns)
            body = _encode_data(product, data)
        except PublishError:
            self._count("invalid")
            raise
        self._submit(product, zmq_topic, head, body, t_event_ns, operator_key(self.site, data), None)

    def publish_binary(self, product: str, header: Mapping[str, Any], body: bytes, *, source: str | None = None,
                       t_event_ns: int | None = None, schema: str | None = None) -> None:
        """Produce ``envelope + header`` with ``body`` in the Kafka header ``rsu-body``."""
        if not self.wants(product):
            return
        try:
            if not isinstance(body, (bytes, bytearray, memoryview)):
                raise PublishError(f"{product}: body must be bytes, got {type(body).__name__}")
            if not isinstance(header, Mapping) or not isinstance(header.get("encoding"), str):
                raise PublishError(f"{product}: header must be a mapping naming the body's 'encoding'")
            zmq_topic, head = self._head(product, source, schema)
            _check_time(t_event_ns)
            encoded = _encode_data(product, {**header, "bytes": len(body)})
        except PublishError:
            self._count("invalid")
            raise
        self._submit(product, zmq_topic, head, encoded, t_event_ns, self.site, bytes(body))

    def _head(self, product: str, source: str | None, schema: str | None) -> tuple[str, bytes]:
        key = (product, source, schema)
        hit = self._heads.get(key)
        if hit is None:
            zmq_topic = topic_for(self.site, product, source)
            schema_id = schema or default_schema(product)
            if not isinstance(schema_id, str):
                raise PublishError(f"{product}: schema must be a string, got {schema_id!r}")
            hit = self._heads[key] = (zmq_topic, envelope_head(schema_id, self.site, source or self.default_source))
        return hit

    def _count(self, what: str) -> None:
        with self._lock:
            self._n[what] += 1

    # -- routing ----------------------------------------------------------------------------------------------

    def _submit(self, product: str, zmq_topic: str, head: bytes, data: bytes, t_event_ns: int | None,
                key: str, body: bytes | None) -> None:
        topic = kafka_topic(product, self.cfg.topic_prefix)
        priority = priority_of(product, self.cfg.priorities)
        with self._lock:
            seq = self._seq[zmq_topic]
            self._seq[zmq_topic] += 1
            t_publish = time.time_ns()
            # the event time as the source stamped it: it is the Flink job's event time, and capping it at the
            # publish time here would give the job other inputs than the box's own runner had (the bus caps)
            t_event = t_publish if t_event_ns is None else int(t_event_ns)
            value = join_envelope(head, seq, t_event, t_publish, data)
            if self._finished:
                self._n["dropped_closed"] += 1
                return
            if (self._online and not self._closed and not len(self._journal)
                    and self._in_flight < self.cfg.max_in_flight):
                record = Record(self._journal.reserve(), priority, topic, key.encode(), value, body)
                try:
                    self._produce(record, live=True)
                    return
                except BufferError:
                    pass
            try:
                if self._journal.append(priority, topic, key.encode(), value, body):
                    self._journalled[product] += 1
            except OSError:  # the disk refuses it (counted by the journal): safety goes to the client anyway
                self._unjournalled(Record(self._journal.reserve(), priority, topic, key.encode(), value, body))

    def _unjournalled(self, record: Record) -> None:
        """A record the journal could not write (with ``self._lock`` held): a safety record is handed to the
        client (it waits there for the broker, out of order with what the journal holds); anything else, or
        a safety record the client has no room for, is counted in ``unjournalled`` as lost."""
        if record.priority == "safety":
            try:
                if self._produce(record, live=True):
                    self._n["unjournalled_sent_live"] += 1
                return
            except BufferError:
                pass
        self._unjournaled_lost[record.priority] += 1

    def _produce(self, record: Record, *, live: bool) -> bool:
        """Hand one record to the client (with ``self._lock`` held); BufferError when its queue is full,
        False (counted as failed) when the client refuses this record for good (e.g. too large)."""
        headers = None if record.body is None else [(BODY_HEADER, record.body)]
        try:
            self._producer.produce(record.topic, record.value, record.key, headers=headers,
                                   timestamp=_event_ms(record.value),
                                   on_delivery=functools.partial(self._on_delivery, record.seq, live))
        except KafkaException as exc:
            self._failed[record.topic] += 1
            if self._failed[record.topic] <= 3:
                log.warning("kafka: %s refused: %s", record.topic, exc)
            return False
        self._in_flight += 1
        self._n["produced"] += 1
        if live:
            self._live[record.seq] = record
        return True

    def _drain(self) -> None:
        """Move journalled records to the client while it has room (in ``seq`` order); while the broker is
        away only a few, which find out when it is back, so the rest stay on disk under the journal's bound."""
        with self._lock:
            room = self.cfg.max_in_flight if self._online else min(self.cfg.max_in_flight, _OFFLINE_PROBES)
            while self._in_flight < room:
                record = self._journal.peek()
                if record is None:
                    return
                try:
                    produced = self._produce(record, live=False)
                except BufferError:
                    return
                self._journal.take()
                if not produced:
                    self._journal.ack(record.seq)  # refused for good: off the journal, counted as failed

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self._producer.poll(_POLL_S)
                self._drain()
            except Exception:  # noqa: BLE001 - the sender never dies; the next round retries
                self._count("sender_errors")
                log.exception("kafka sender")
                self._stop.wait(_POLL_S)

    # -- client callbacks (on the thread that polls) ---------------------------------------------------------

    def _on_delivery(self, seq: int, live: bool, err: KafkaError | None, msg: Any) -> None:
        with self._lock:
            self._in_flight -= 1
            if err is not None and err.code() in _PURGED:
                return  # closing: live records are put back into the journal, journalled ones stay there
            if live:
                self._live.pop(seq, None)
            if err is None:
                self._delivered[msg.topic()] += 1
                if not live:
                    self._n["replayed"] += 1
                if not self._online:
                    self._online = True
                    log.info("kafka: broker reachable, %d records journalled", len(self._journal))
            else:
                self._failed[msg.topic()] += 1
                if self._failed[msg.topic()] <= 3:
                    log.warning("kafka: %s not delivered: %s", msg.topic(), err)
        if not live:
            self._journal.ack(seq)

    def _on_error(self, err: KafkaError) -> None:
        if err.code() == KafkaError._ALL_BROKERS_DOWN:
            with self._lock:
                self._n["broker_down"] += 1
                was, self._online = self._online, False
            if was:
                log.warning("kafka: no broker reachable (%s): journalling to %s", err.str(), self._journal.folder)
        else:
            log.debug("kafka client: %s", err)

    # -- stats and shutdown -----------------------------------------------------------------------------------

    def stats(self) -> dict[str, Any]:
        """``online``, ``produced`` (handed to the client), ``delivered``, ``journalled`` (went to disk),
        ``replayed`` (journalled and then delivered), ``dropped`` (by the journal bound, per priority),
        ``failed``, ``invalid``, ``in_flight``, ``unjournalled`` (per priority: the disk refused them and they
        were not sent either), ``unjournalled_sent_live`` (safety records the disk refused, handed to the client), per-topic ``delivered_by_topic`` / ``journalled_by_product``
        and the journal's own stats."""
        journal = self._journal.stats()
        with self._lock:
            return {
                "bootstrap": self.cfg.bootstrap_servers, "online": self._online, "in_flight": self._in_flight,
                "produced": self._n["produced"], "delivered": sum(self._delivered.values()),
                "journalled": sum(self._journalled.values()), "replayed": self._n["replayed"],
                "dropped": sum(journal["dropped"].values()), "failed": sum(self._failed.values()),
                "invalid": self._n["invalid"], "dropped_closed": self._n["dropped_closed"],
                "broker_down": self._n["broker_down"], "unjournalled": dict(self._unjournaled_lost),
                "unjournalled_sent_live": self._n["unjournalled_sent_live"], "delivered_by_topic": dict(self._delivered),
                "journalled_by_product": dict(self._journalled), "failed_by_topic": dict(self._failed),
                "journal": journal,
            }

    def close(self, timeout: float | None = None) -> None:
        """Deliver what the broker takes within ``timeout`` s (``close_timeout_s``); what it did not take stays
        in the journal for the next start. Idempotent."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
        deadline = time.monotonic() + (self.cfg.close_timeout_s if timeout is None else timeout)
        self._stop.set()
        self._sender.join()
        while time.monotonic() < deadline and (self._in_flight or (self._online and len(self._journal))):
            self._producer.poll(_POLL_S)
            self._drain()
        if self._in_flight:
            self._producer.purge()
            self._producer.flush(0)
        with self._lock:
            undelivered = list(self._live.values())
            self._live.clear()
        if undelivered:
            try:
                self._journal.restore(undelivered)
            except OSError as exc:  # a full disk at close: what the client still held is lost, and counted
                with self._lock:
                    for r in undelivered:
                        self._unjournaled_lost[r.priority] += 1
                log.error("kafka: %d undelivered records could not be journalled: %s", len(undelivered), exc)
        with self._lock:
            self._finished = True
            self._journal.close()
        log.info("kafka: closed (%d records left in the journal)", self._journal.pending())

    def __enter__(self) -> KafkaOutput:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
