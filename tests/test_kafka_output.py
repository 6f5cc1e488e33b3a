"""The box as a Kafka producer, against a real single-node broker started from the fetched jars.

One broker per test session (``kafka_broker``); each test uses its own topic prefix. Without the jars
(`rsu kafka fetch`) or Java the broker tests are skipped, saying so; the journal-bound test needs no broker.
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import pytest
from confluent_kafka import Consumer
from rsu_sdk import Alarm, FusedObject, HealthEvent, ObjectList, Prediction, SensorReading

from rsu.config.kafka import KafkaConfig
from rsu.config.publish import ZmqConfig
from rsu.kafka.broker import KafkaBroker
from rsu.publish import ZmqPublisher, publish_product
from rsu.publish.kafka_output import BODY_HEADER, KafkaOutput, kafka_topic
from support import ZmqSub, free_port, wait_until

T = 1_767_225_600_000_000_000
WAIT_S = 120.0  # generous: the machine may be loaded; nothing here measures time


def consume(bootstrap: str, topics: list[str], count: int, timeout: float = WAIT_S) -> list[Any]:
    """``count`` messages from the start of ``topics`` (fails when fewer arrive)."""
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": f"test-{uuid.uuid4().hex}",
                         "auto.offset.reset": "earliest", "enable.auto.commit": False})
    consumer.subscribe(topics)
    got: list[Any] = []

    def one_more() -> bool:
        msg = consumer.poll(0.5)
        if msg is not None and msg.error() is None:
            got.append(msg)
        return len(got) >= count

    try:
        wait_until(one_more, timeout, f"{count} messages on {topics}", interval=0)
    finally:
        consumer.close()
    assert len(got) == count, f"expected {count} messages on {topics}, got {len(got)}"
    return got


def config(tmp_path: Path, bootstrap: str, **kwargs: Any) -> KafkaConfig:
    kwargs.setdefault("topic_prefix", f"t{uuid.uuid4().hex[:8]}")
    return KafkaConfig(bootstrap_servers=bootstrap, journal={"dir": tmp_path / "journal"}, **kwargs)


CAR = FusedObject(track_id=7, position_enu=(12.3, -4.1, 0.0), velocity_enu=(8.2, 0.4), heading_deg=87.2,
                  class_name="car", confidence=0.91, lat=48.0000123, lon=11.0001653, sources=("cam-1", "radar-1"))
PRODUCTS = [
    ObjectList(source="fusion", t_event_ns=T, objects=(CAR,)),
    SensorReading(source="plant", t_event_ns=T + 1, device="furnace-1", values={"temp": 1480.0}, units={"temp": "C"}),
    Prediction(source="furnace_fault", t_event_ns=T + 2, device="furnace-2", model="lstm-fault", score=0.83,
               label="tuyere_leak"),
    Alarm(source="furnace_fault", t_event_ns=T + 3, device="furnace-2", kind="furnace_fault", active=True,
          severity="critical", score=0.83, message="fault predicted"),
    HealthEvent(source="host", t_event_ns=T + 4, component="source:cam-1", status="ok", message=""),
]
KEYS = [b"site-a", b"furnace-1", b"furnace-2", b"furnace-2", b"site-a"]


def test_products_arrive_keyed_by_operator_key_with_the_zeromq_payload(kafka_broker: KafkaBroker,
                                                                       tmp_path: Path) -> None:
    cfg = config(tmp_path, kafka_broker.bootstrap)
    zpub = ZmqPublisher("site-a", ZmqConfig(endpoint="tcp://127.0.0.1:*"))
    sub = ZmqSub(zpub.endpoint)
    out = KafkaOutput("site-a", cfg)
    try:
        assert zpub.wait_for_subscribers(1, timeout=WAIT_S)
        for product in PRODUCTS:
            publish_product(zpub, product)
            publish_product(out, product)
        zmq_payloads = sub.recv_json(len(PRODUCTS), WAIT_S)
        wait_until(lambda: out.stats()["delivered"] == len(PRODUCTS), WAIT_S, "deliveries")
    finally:
        out.close()
        sub.close()
        zpub.close()
    topics = sorted({kafka_topic(p, cfg.topic_prefix) for p in ("objects", "env", "fault", "health")})
    msgs = consume(kafka_broker.bootstrap, topics, len(PRODUCTS))
    by_event = {json.loads(m.value())["t_event"]: m for m in msgs}
    for product, key, zmq_payload in zip(PRODUCTS, KEYS, zmq_payloads):
        msg = by_event[product.t_event_ns]
        payload = json.loads(msg.value())
        assert msg.key() == key
        assert msg.topic() == f"{cfg.topic_prefix}." + {"ObjectList": "objects", "SensorReading": "env",
                                                        "HealthEvent": "health"}.get(type(product).__name__, "fault")
        # the same envelope and data as on ZeroMQ; only the publish time differs
        assert {k: v for k, v in payload.items() if k != "t_publish"} == \
               {k: v for k, v in zmq_payload.items() if k != "t_publish"}
        assert payload["t_event"] <= payload["t_publish"]
    assert out.stats()["failed"] == 0 and out.stats()["in_flight"] == 0


def test_only_the_listed_products_and_binary_bodies_in_a_header(kafka_broker: KafkaBroker, tmp_path: Path) -> None:
    cfg = config(tmp_path, kafka_broker.bootstrap, products=["v2x/cpm"])
    with KafkaOutput("site-a", cfg) as out:
        out.publish("objects", {"objects": []}, source="fusion")  # not listed: skipped
        out.publish_binary("v2x/cpm", {"encoding": "uper", "station_id": 7}, b"\x01\x02\x03", source="v2x",
                           t_event_ns=T, schema="rsu.v2x.cpm/1")
        wait_until(lambda: out.stats()["delivered"] == 1, WAIT_S, "the CPM")
        assert out.stats()["produced"] == 1
    (msg,) = consume(kafka_broker.bootstrap, [kafka_topic("v2x/cpm", cfg.topic_prefix)], 1)
    payload = json.loads(msg.value())
    assert payload["schema"] == "rsu.v2x.cpm/1" and payload["bytes"] == 3 and payload["station_id"] == 7
    assert dict(msg.headers())[BODY_HEADER] == b"\x01\x02\x03"


def test_broker_down_journals_then_replays_in_order_per_key(kafka_broker: KafkaBroker, tmp_path: Path) -> None:
    cfg = config(tmp_path, kafka_broker.bootstrap)
    devices = [f"dev-{i}" for i in range(5)]
    out = KafkaOutput("site-a", cfg)
    try:
        out.publish("env", {"device": "dev-0", "values": {"i": -1}, "units": {}}, source="plant", t_event_ns=T)
        wait_until(lambda: out.stats()["online"] and out.stats()["delivered"] == 1, WAIT_S,
                   "the broker to take a record")
        kafka_broker.stop()
        wait_until(lambda: not out.stats()["online"], WAIT_S, "the output to see the broker gone")
        before = out.stats()
        n = 200
        for i in range(n):  # while the broker is down: readings keyed by device, objects keyed by site
            out.publish("env", {"device": devices[i % 5], "values": {"i": i}, "units": {}}, source="plant",
                        t_event_ns=T + i)
            out.publish("objects", {"objects": [], "i": i}, source="fusion", t_event_ns=T + i)
            out.publish("fault", {"device": devices[i % 5], "model": "m", "score": 0.5, "label": "ok", "i": i},
                        source="furnace_fault", t_event_ns=T + i)
        during = out.stats()
        assert during["journalled"] - before["journalled"] == 3 * n  # every product went to disk
        assert during["journal"]["bytes"] > 0 and during["dropped"] == 0
        kafka_broker.start(detach=False)
        wait_until(lambda: out.stats()["delivered"] == 1 + 3 * n, WAIT_S, "the journal to be replayed")
        after = out.stats()
        assert after["replayed"] - before["replayed"] == 3 * n
        assert after["journal"]["waiting"] == 0 and after["journal"]["bytes"] == 0
    finally:
        out.close()
        kafka_broker.start(detach=False)  # the session's broker stays up for the other tests
    topics = [kafka_topic(p, cfg.topic_prefix) for p in ("env", "objects", "fault")]
    msgs = consume(kafka_broker.bootstrap, topics, 1 + 3 * n)
    per_key: dict[tuple[str, bytes], list[int]] = {}
    for m in msgs:
        payload = json.loads(m.value())
        i = payload.get("values", {}).get("i", payload.get("i"))
        per_key.setdefault((m.topic(), m.key()), []).append(i)
        if m.topic().endswith(".objects"):
            assert m.key() == b"site-a"
        else:
            assert m.key() == payload["device"].encode()
    for (topic, key), seen in per_key.items():
        expected = [i for i in range(n) if topic.endswith(".objects") or devices[i % 5].encode() == key]
        if topic.endswith(".env") and key == b"dev-0":
            expected = [-1] + expected
        assert seen == expected, f"{topic} {key!r}: out of order, missing or duplicated"


def test_unreachable_broker_journal_is_bounded_and_keeps_safety(tmp_path: Path) -> None:
    closed = free_port()  # nothing listens there
    cfg = KafkaConfig(bootstrap_servers=f"127.0.0.1:{closed}", close_timeout_s=0,
                      journal={"dir": tmp_path / "journal", "max_bytes": 64 * 1024, "segment_bytes": 4096})
    with KafkaOutput("site-a", cfg) as out:
        for i in range(600):
            out.publish("detections", {"frame_id": i, "image_size": [640, 480], "detections": [],
                                       "pad": "x" * 200}, source="cam-1")
            if i % 3 == 0:
                out.publish("fault", {"device": "furnace-1", "model": "m", "score": 0.9, "label": "leak", "i": i},
                            source="furnace_fault")
        stats = out.stats()
    journal = stats["journal"]
    assert journal["bytes"] <= 64 * 1024
    assert journal["dropped"].get("low", 0) > 0 and "safety" not in journal["dropped"]
    assert stats["delivered"] == 0 and stats["dropped"] == journal["dropped"]["low"]
    # what was kept survives the box's restart, every safety record with it, in order
    from rsu.publish.journal import Journal

    kept = Journal(tmp_path / "journal", max_bytes=64 * 1024, segment_bytes=4096)
    records = []
    while (r := kept.take()) is not None:
        records.append(r)
    faults = [json.loads(r.value)["i"] for r in records if r.priority == "safety"]
    assert faults == list(range(0, 600, 3))
    assert [r.seq for r in records] == sorted(r.seq for r in records)


def test_bad_client_setting_is_a_clear_error(tmp_path: Path) -> None:
    from rsu_sdk import PublishError

    cfg = KafkaConfig(client={"no.such.setting": 1}, journal={"dir": tmp_path / "journal"})
    with pytest.raises(PublishError, match="publish.kafka: the client refused its settings.*no.such.setting"):
        KafkaOutput("site-a", cfg)
    KafkaOutput("site-a", cfg.model_copy(update={"client": {}})).close(0)  # the journal was released


def test_from_config_builds_the_output_only_when_the_section_is_set(tmp_path: Path) -> None:
    import yaml

    from rsu.config.loader import parse_config

    raw = yaml.safe_load((Path(__file__).resolve().parents[1] / "configs" / "demo.yaml").read_text())
    assert KafkaOutput.from_config(parse_config(raw)) is None
    raw.setdefault("publish", {})["kafka"] = {"bootstrap_servers": f"127.0.0.1:{free_port()}",
                                              "products": ["objects"], "journal": {"dir": str(tmp_path / "j")}}
    out = KafkaOutput.from_config(parse_config(raw))
    assert out is not None
    try:
        assert out.site == parse_config(raw).site.name and out.wants("objects") and not out.wants("detections")
    finally:
        out.close(0)


def test_a_record_the_client_refuses_is_counted_and_does_not_block_the_journal(tmp_path: Path) -> None:
    cfg = KafkaConfig(bootstrap_servers=f"127.0.0.1:{free_port()}", close_timeout_s=0,
                      journal={"dir": tmp_path / "journal"})
    with KafkaOutput("site-a", cfg) as out:
        out.publish("objects", {"objects": [], "pad": "x" * 2_000_000}, source="fusion")  # over message.max.bytes
        for i in range(5):
            out.publish("objects", {"objects": [], "i": i}, source="fusion")
        wait_until(lambda: out.stats()["failed"] == 1 and out.stats()["journal"]["waiting"] == 0,
                   WAIT_S, "the big record to be refused and the rest handed on")
        stats = out.stats()
    assert stats["journalled"] == 6 and stats["in_flight"] == 5 and stats["failed_by_topic"] == {"rsu.objects": 1}


def test_a_journal_left_by_an_earlier_run_is_delivered_first(kafka_broker: KafkaBroker, tmp_path: Path) -> None:
    prefix = f"t{uuid.uuid4().hex[:8]}"
    away = KafkaConfig(bootstrap_servers=f"127.0.0.1:{free_port()}", topic_prefix=prefix, close_timeout_s=0,
                       journal={"dir": tmp_path / "journal"})
    with KafkaOutput("site-a", away) as out:  # the broker is unreachable for the whole first run
        for i in range(20):
            out.publish("env", {"device": "dev-1", "values": {"i": i}, "units": {}}, source="plant")
    assert out.stats()["journal"]["waiting"] + out.stats()["journal"]["in_flight"] == 20
    with KafkaOutput("site-a", away.model_copy(update={"bootstrap_servers": kafka_broker.bootstrap})) as out:
        out.publish("env", {"device": "dev-1", "values": {"i": 20}, "units": {}}, source="plant")
        wait_until(lambda: out.stats()["delivered"] == 21, WAIT_S,
                   "the earlier run's journal and the new record")
        assert out.stats()["journal"]["recovered"] == 20
    msgs = consume(kafka_broker.bootstrap, [kafka_topic("env", prefix)], 21)
    assert [json.loads(m.value())["values"]["i"] for m in msgs] == list(range(21))
