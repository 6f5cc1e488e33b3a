"""Driving the Kafka-fed job from Python (tests, ``rsu bench kafka-flink``): the box's products into Kafka
through the box's own producer, the job's results back through a ``read_committed`` consumer, the job's
state from the cluster's REST API."""

from __future__ import annotations

import json
import tempfile
import threading
import time
import urllib.request
import uuid
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from rsu_sdk import Product

from rsu.pipeline.flink.records import from_envelope

__all__ = ["produce", "ResultCollector", "rest", "job_state", "wait_for", "checkpoints"]


def wait_for(cond: Callable[[], bool], what: str, timeout: float,
             detail: Callable[[], str] | None = None) -> None:
    """Poll ``cond`` until true; AssertionError naming ``what`` (and ``detail()``) after ``timeout`` s."""
    end = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > end:
            more = f" ({detail()})" if detail is not None else ""
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}{more}")
        time.sleep(0.1)


def produce(bootstrap: str, prefix: str, site: str, products: Iterable[Product], *,
            journal: Path | None = None, pace: Callable[[int, Product], None] | None = None) -> dict[str, Any]:
    """Publish ``products`` as the box does (``publish.kafka``), wait until the broker has every one; the
    output's stats. ``pace(i, product)`` runs before each (rate control for benchmarks)."""
    from rsu.config.kafka import KafkaConfig
    from rsu.publish import publish_product
    from rsu.publish.kafka_output import KafkaOutput

    with tempfile.TemporaryDirectory(prefix="rsu-journal-") as tmp:
        cfg = KafkaConfig(bootstrap_servers=bootstrap, topic_prefix=prefix, close_timeout_s=120,
                          journal={"dir": journal or Path(tmp)})
        out = KafkaOutput(site, cfg)
        try:
            for i, p in enumerate(products):
                if pace is not None:
                    pace(i, p)
                publish_product(out, p)
        finally:
            out.close()
        return out.stats()


class ResultCollector:
    """Reads result topics (``read_committed``, from the start) on a thread; keeps every record's
    ``(topic, partition, offset, envelope, product, t_received_ns)``."""

    def __init__(self, bootstrap: str, topics: list[str]) -> None:
        from confluent_kafka import Consumer

        self._consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": f"collect-{uuid.uuid4().hex}",
                                   "isolation.level": "read_committed", "auto.offset.reset": "earliest",
                                   "enable.auto.commit": False, "topic.metadata.refresh.interval.ms": 1000})
        self._consumer.subscribe(topics)
        self.records: list[tuple[str, int, int, dict[str, Any], Product, int]] = []
        self.bad = 0
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="result-collector", daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        while not self._stop.is_set():
            msg = self._consumer.poll(0.2)
            if msg is None or msg.error() is not None:
                continue
            now = time.time_ns()
            try:
                _, product, _ = from_envelope(msg.value())
                env = json.loads(msg.value())
            except ValueError:
                self.bad += 1
                continue
            with self._lock:
                self.records.append((msg.topic(), msg.partition(), msg.offset(), env, product, now))
        self._consumer.close()

    def __len__(self) -> int:
        with self._lock:
            return len(self.records)

    def products(self) -> list[Product]:
        with self._lock:
            return [r[4] for r in self.records]

    def snapshot(self) -> list[tuple[str, int, int, dict[str, Any], Product, int]]:
        with self._lock:
            return list(self.records)

    def close(self) -> None:
        self._stop.set()
        self._thread.join(10)


def rest(address: str, path: str, timeout: float = 5.0) -> Any:
    with urllib.request.urlopen(f"http://{address}{path}", timeout=timeout) as resp:
        return json.loads(resp.read())


def job_state(address: str, job_id: str) -> str:
    return str(rest(address, f"/jobs/{job_id}")["state"])


def checkpoints(address: str, job_id: str) -> dict[str, Any]:
    """The job's checkpoint statistics (``counts``: ``completed``, ``restored`` ...; ``latest``)."""
    return rest(address, f"/jobs/{job_id}/checkpoints")
