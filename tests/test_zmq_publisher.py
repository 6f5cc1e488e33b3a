"""ZmqPublisher over real ZeroMQ sockets on loopback: envelope, topics, seq, threads, drops, stats."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator

import numpy as np
import pytest
import zmq
from rsu_sdk import Publisher, PublishError

from rsu.config.loader import parse_config
from rsu.config.publish import ZmqConfig
from rsu.publish import BUILTIN_PRODUCTS, ZmqPublisher
from rsu.publish.schemas import validate
from support import ZmqSub, wait_until

ANY_PORT = "tcp://127.0.0.1:*"


@pytest.fixture()
def ctx() -> Iterator[zmq.Context]:
    context = zmq.Context()
    yield context
    context.destroy(linger=0)


@pytest.fixture()
def pub() -> Iterator[ZmqPublisher]:
    publisher = ZmqPublisher("test-site", ZmqConfig(endpoint=ANY_PORT))
    yield publisher
    publisher.close(0)


def subscribe(ctx: zmq.Context, pub: ZmqPublisher, prefix: str = "rsu/", **opts: int) -> ZmqSub:
    """A SUB socket whose subscription has reached ``pub`` (no slow-joiner race)."""
    before = pub.stats()["subscriptions"]
    sub = ZmqSub(pub.endpoint, prefix, context=ctx, **opts)
    assert pub.wait_for_subscribers(before + 1, timeout=60), "subscription never reached the publisher"
    return sub


def receive(sub: ZmqSub, n: int) -> list[list[bytes]]:
    return sub.recv(n, timeout=60)


def test_round_trip_envelope_topic_and_seq(ctx: zmq.Context, pub: ZmqPublisher) -> None:
    sub = subscribe(ctx, pub)
    assert pub.endpoint.startswith("tcp://127.0.0.1:") and not pub.endpoint.endswith("*")
    for i in range(3):
        pub.publish("health", {"component": "source:cam-1", "status": "ok", "message": f"m{i}"},
                    source="cam-1", t_event_ns=1_000 + i, schema="rsu.health/1")
    pub.publish("health", {"component": "x", "status": "down", "message": ""}, schema="rsu.health/1")
    msgs = receive(sub, 4)
    topics = [m[0].decode() for m in msgs]
    assert topics == ["rsu/test-site/health/cam-1"] * 3 + ["rsu/test-site/health"]
    payloads = [json.loads(m[1]) for m in msgs]
    for p in payloads:
        assert list(p)[:7] == ["schema", "site", "source", "boot", "seq", "t_event", "t_publish"]
        assert p["boot"] == pub.boot and len(p["boot"]) == 16
        assert validate(p) == []
        assert p["site"] == "test-site" and isinstance(p["t_publish"], int)
    assert [p["seq"] for p in payloads[:3]] == [0, 1, 2]  # per topic, from 0, +1
    assert payloads[3]["seq"] == 0  # another topic has its own counter
    assert [p["t_event"] for p in payloads[:3]] == [1000, 1001, 1002]
    assert payloads[0]["source"] == "cam-1" and payloads[3]["source"] == "rsu"  # default source
    assert payloads[3]["t_event"] == payloads[3]["t_publish"]  # no event time: publish time


def test_binary_message_has_three_parts(ctx: zmq.Context, pub: ZmqPublisher) -> None:
    sub = subscribe(ctx, pub)
    body = bytes(range(200))
    pub.publish_binary("v2x/cpm", {"encoding": "cpm-uper", "station_id": 7}, body, source="rsu-1")
    (topic, header, got), = receive(sub, 1)
    assert topic == b"rsu/test-site/v2x/cpm/rsu-1" and got == body
    head = json.loads(header)
    assert head["schema"] == "rsu.v2x.cpm/1" and head["bytes"] == 200 and head["station_id"] == 7
    assert validate(head) == []
    with pytest.raises(PublishError, match="encoding"):
        pub.publish_binary("v2x/cpm", {"bytes": 3}, b"abc")
    with pytest.raises(PublishError, match="5 bytes"):
        pub.publish_binary("v2x/cpm", {"encoding": "x", "bytes": 5}, b"abc")


@pytest.mark.parametrize("product", BUILTIN_PRODUCTS + ("weather", "v2x/denm", "my_plugin/state"))
def test_allowed_products(pub: ZmqPublisher, product: str) -> None:
    pub.publish(product, {"x": 1})
    assert pub.stats()["topics"][f"rsu/test-site/{product}"]["sent"] == 1


@pytest.mark.parametrize("product", ["", "Objects", "faults", "objects2", "v2x", "env/x", "a/b/c", "x y",
                                     "-x", "a" * 40])
def test_refused_products(pub: ZmqPublisher, product: str) -> None:
    with pytest.raises(PublishError, match="product"):
        pub.publish(product, {"x": 1})
    assert pub.stats()["invalid"] == 1 and pub.stats()["sent"] == 0


@pytest.mark.parametrize("source", ["", "a/b", "cam 1", ".hidden", "é"])
def test_refused_sources(pub: ZmqPublisher, source: str) -> None:
    with pytest.raises(PublishError, match="source"):
        pub.publish("env", {"x": 1}, source=source)


def test_refused_data(pub: ZmqPublisher) -> None:
    with pytest.raises(PublishError, match="envelope keys"):
        pub.publish("env", {"seq": 5})
    with pytest.raises(PublishError, match="not JSON-serialisable"):
        pub.publish("env", {"x": object()})
    with pytest.raises(PublishError, match="mapping"):
        pub.publish("env", [1, 2])  # type: ignore[arg-type]
    with pytest.raises(PublishError, match="t_event_ns"):
        pub.publish("env", {"x": 1}, t_event_ns=-1)
    assert pub.stats()["invalid"] == 4


def test_numpy_and_mappings_serialise(ctx: zmq.Context, pub: ZmqPublisher) -> None:
    from types import MappingProxyType

    sub = subscribe(ctx, pub)
    pub.publish("weather", {"a": np.float32(1.5), "b": np.arange(3), "c": MappingProxyType({"k": np.int64(4)}),
                            "d": float("nan")})
    (_, payload), = receive(sub, 1)
    data = json.loads(payload)
    assert (data["a"], data["b"], data["c"], data["d"]) == (1.5, [0, 1, 2], {"k": 4}, None)
    assert data["schema"] == "rsu.weather/1"


def test_threads_share_one_gapless_seq(ctx: zmq.Context, pub: ZmqPublisher) -> None:
    sub = subscribe(ctx, pub)
    n_threads, per_thread = 4, 400

    def worker(k: int) -> None:
        scoped = pub.scoped(f"worker-{k}")
        for i in range(per_thread):
            scoped.publish("objects", {"objects": [], "i": i})

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(n_threads)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    msgs = receive(sub, n_threads * per_thread)
    payloads = [json.loads(m[1]) for m in msgs]
    assert [p["seq"] for p in payloads] == list(range(n_threads * per_thread))  # wire order == seq order
    for k in range(n_threads):
        mine = [p["i"] for p in payloads if p["source"] == f"worker-{k}"]
        assert mine == list(range(per_thread))
    assert pub.stats()["topics"]["rsu/test-site/objects"] == {"sent": 1600, "dropped": 0, "skipped": 0, "next_seq": 1600}


def _flood(pub: ZmqPublisher, n: int, size: int) -> None:
    blob = "x" * size
    done = threading.Event()

    def run() -> None:
        for i in range(n):
            pub.publish("env", {"i": i, "blob": blob})
        done.set()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    assert done.wait(60), "publish blocked on a subscriber that does not read"


def test_full_queue_drops_are_counted_and_never_block(ctx: zmq.Context) -> None:
    pub = ZmqPublisher("test-site", ZmqConfig(endpoint=ANY_PORT, send_hwm=5))
    pub.isolate = lambda: False  # what the uplink answers when every subscriber is behind: drop for all
    try:
        sub = subscribe(ctx, pub, RCVHWM=5, RCVBUF=65536)  # connected, but reads nothing for now
        n = 1500
        _flood(pub, n, 64_000)
        stats = pub.stats()
        assert stats["dropped"] > 0 and stats["sent"] + stats["dropped"] == n and stats["skipped"] == 0
        assert stats["topics"]["rsu/test-site/env"]["next_seq"] == n
        seqs = [json.loads(frames[1])["seq"] for frames in sub.drain(500)]  # what it finds queued
        assert len(seqs) == stats["sent"] and seqs == sorted(seqs)
        # where the drops fell depends on how fast the machine drained the queue (often all at the tail); the
        # next message that gets through shows them to the subscriber as a jump in seq, wherever they fell
        pub.publish("env", {"i": n, "blob": ""})
        last = sub.recv_json(1, 60, "the message after the flood")[0]["seq"]
        assert last == n and last - len(seqs) == stats["dropped"]  # seq 0..n: every one not seen was dropped
    finally:
        pub.close(0)


def test_lossy_mode_drops_only_for_the_slow_subscriber(ctx: zmq.Context) -> None:
    pub = ZmqPublisher("test-site", ZmqConfig(endpoint=ANY_PORT, send_hwm=5, count_drops=False))
    try:
        slow = subscribe(ctx, pub, RCVHWM=5, RCVBUF=65536)
        n = 1500
        _flood(pub, n, 64_000)
        assert pub.stats()["dropped"] == 0 and pub.stats()["sent"] == n
        got = len(slow.drain(500))
        assert 0 < got < n
    finally:
        pub.close(0)


def test_stats_close_and_protocol(ctx: zmq.Context, pub: ZmqPublisher) -> None:
    assert isinstance(pub, Publisher) and isinstance(pub.scoped("plugin-a"), Publisher)
    sub = subscribe(ctx, pub, "rsu/test-site/env")
    assert pub.wait_for_subscribers(1, timeout=1, topic="rsu/test-site/env/s1")
    assert not pub.wait_for_subscribers(1, timeout=0.05, topic="rsu/test-site/objects")
    pub.publish("env", {"device": "d"}, source="s1")
    stats = pub.stats()
    assert stats["subscriptions"] == 1 and stats["sent"] == 1 and stats["endpoint"] == pub.endpoint
    sub.close()
    wait_until(lambda: pub.stats()["subscriptions"] == 0, 60, "the closed subscriber's unsubscription")
    pub.close(0)
    pub.close()  # idempotent
    pub.publish("env", {"device": "d"}, source="s1")  # during shutdown: counted, not raised
    assert pub.stats()["topics"]["rsu/test-site/env/s1"] == {"sent": 1, "dropped": 1, "skipped": 0, "next_seq": 2}


def test_bind_conflict_names_the_endpoint(pub: ZmqPublisher) -> None:
    with pytest.raises(PublishError, match=r"publish\.zmq\.endpoint: cannot bind " + pub.endpoint):
        ZmqPublisher("test-site", ZmqConfig(endpoint=pub.endpoint))


def test_from_config(ctx: zmq.Context) -> None:
    cfg = parse_config({"site": {"name": "a9-north", "lat": 48.0, "lon": 11.0},
                        "publish": {"zmq": {"endpoint": ANY_PORT, "send_hwm": 100}}})
    with ZmqPublisher.from_config(cfg) as pub:
        sub = subscribe(ctx, pub)
        pub.publish("env", {"device": "d", "values": {}, "units": {}}, source="s1")
        (topic, _), = receive(sub, 1)
        assert topic == b"rsu/a9-north/env/s1"
    with pytest.raises(PublishError, match="site.name"):
        ZmqPublisher("Bad Site", ZmqConfig(endpoint=ANY_PORT))
