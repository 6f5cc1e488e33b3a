"""A box whose source is the Flink job's committed results (``type: flink_results``) publishes them on the bus
with the same wire format and hands them to the plugins: a real broker, a real box, a real subscriber."""

from __future__ import annotations

import time
import uuid
from pathlib import Path

from confluent_kafka import Producer
from rsu_sdk import FusedObject, ObjectList

from rsu.pipeline.flink.records import to_envelope
from support import Subscriber, running_box

SITE = {"name": "pole-9", "lat": 48.1, "lon": 11.5}


def test_committed_results_reach_the_bus_in_the_host_wire_format(kafka_broker, tmp_path: Path) -> None:  # noqa: ANN001
    prefix = f"out{uuid.uuid4().hex[:6]}"
    cfg = {"site": SITE,
           "sources": [{"id": "results", "type": "flink_results", "bootstrap_servers": kafka_broker.bootstrap,
                        "output_prefix": prefix, "products": ["objects"]}],
           "fusion": {"enabled": False},
           "publish": {"zmq": {"endpoint": "tcp://127.0.0.1:*"}, "health_interval_s": 0.2},
           "pipeline": {"checkpoint": {"enabled": False}}}
    with running_box(cfg, tmp_path) as built:
        sub = Subscriber(built.endpoint, f"rsu/{SITE['name']}/")
        try:
            sub.wait_for_count(1, schema="rsu.health/1", timeout=120)  # subscribed: now the job "commits"
            producer = Producer({"bootstrap.servers": kafka_broker.bootstrap})
            for i in range(5):
                ol = ObjectList(source="fusion", t_event_ns=time.time_ns(), objects=(FusedObject(
                    track_id=7, position_enu=(1.0 + i, 2.0, 0.0), velocity_enu=(1.0, 0.0), heading_deg=90.0,
                    class_name="car", confidence=0.9, lat=48.1, lon=11.5),))
                producer.produce(f"{prefix}.objects", to_envelope(ol, SITE["name"], i, "job").encode(), key=b"fusion")
            producer.produce(f"{prefix}.objects", b"{not json")
            assert producer.flush(60) == 0
            sub.wait_for_count(5, schema="rsu.objects/1", timeout=120)
        finally:
            sub.close()
        stats = built.box.sources[0].stats()
    got = sub.of("rsu.objects/1")
    assert [m["objects"][0]["position_enu"][0] for m in got] == [1.0, 2.0, 3.0, 4.0, 5.0]
    assert all(m["t_event"] <= m["t_publish"] and m["site"] == SITE["name"] for m in got)
    assert stats["bad"] == 1
