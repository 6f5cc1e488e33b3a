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

__all__ = ["produce", "produce_sites", "FleetProducer", "ResultCollector", "rest", "job_state", "wait_for", "checkpoints",
           "records_per_subtask"]


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
    return produce_sites(bootstrap, prefix, ((site, p) for p in products), journal=journal, pace=pace)[site]


def produce_sites(bootstrap: str, prefix: str, items: Iterable[tuple[str, Product]], *,
                  journal: Path | None = None, pace: Callable[[int, Product], None] | None = None
                  ) -> dict[str, dict[str, Any]]:
    """As :func:`produce`, for several boxes: ``(site, product)`` items, one box output (and journal) per site;
    site -> that output's stats."""
    with tempfile.TemporaryDirectory(prefix="rsu-journal-") as tmp, \
            FleetProducer(bootstrap, prefix, journal or Path(tmp)) as fleet:
        for i, (site, p) in enumerate(items):
            if pace is not None:
                pace(i, p)
            fleet.publish(site, p)
    return fleet.stats()


class FleetProducer:
    """One box output (``publish.kafka``, own journal) per site, made on first use or by :meth:`open`; a paced
    load generator opens every site first and waits until each is :meth:`online` (until the broker acknowledges
    a box's first record it journals, which would show as seconds of latency that no running box has)."""

    def __init__(self, bootstrap: str, prefix: str, journal: Path, *, linger_ms: int = 5) -> None:
        self.bootstrap, self.prefix, self.journal = bootstrap, prefix, Path(journal)
        self.linger_ms = linger_ms
        self.outputs: dict[str, Any] = {}
        self._stats: dict[str, dict[str, Any]] = {}

    def open(self, site: str) -> Any:
        from rsu.config.kafka import KafkaConfig
        from rsu.publish.kafka_output import KafkaOutput

        out = self.outputs.get(site)
        if out is None:
            cfg = KafkaConfig(bootstrap_servers=self.bootstrap, topic_prefix=self.prefix, close_timeout_s=120,
                              linger_ms=self.linger_ms, journal={"dir": self.journal / site})
            out = self.outputs[site] = KafkaOutput(site, cfg)
        return out

    def publish(self, site: str, product: Product) -> None:
        from rsu.publish import publish_product

        publish_product(self.open(site), product)

    def online(self) -> bool:
        return all(out.stats()["online"] for out in self.outputs.values())

    def stats(self) -> dict[str, dict[str, Any]]:
        return {**self._stats, **{site: out.stats() for site, out in self.outputs.items()}}

    def close(self) -> None:
        for site, out in self.outputs.items():
            out.close()
            self._stats[site] = out.stats()
        self.outputs.clear()

    def __enter__(self) -> FleetProducer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


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


def records_per_subtask(address: str, job_id: str, vertex_name: str) -> list[int]:
    """Records each subtask of the first vertex whose name contains ``vertex_name`` has read (REST metrics)."""
    for vertex in rest(address, f"/jobs/{job_id}")["vertices"]:
        if vertex_name in vertex["name"]:
            detail = rest(address, f"/jobs/{job_id}/vertices/{vertex['id']}")
            return [int(s["metrics"]["read-records"]) for s in detail["subtasks"]]
    return []


def checkpoints(address: str, job_id: str) -> dict[str, Any]:
    """The job's checkpoint statistics (``counts``: ``completed``, ``restored`` ...; ``latest``)."""
    return rest(address, f"/jobs/{job_id}/checkpoints")
