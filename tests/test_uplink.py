"""Network-aware publishing (rsu/publish/uplink.py) over a real, throttled loopback link.

The link: publisher (XPUB, tcp://127.0.0.1) -> a throttling TCP proxy in this process (small receive
buffer, forwards N bytes/s) -> a SUB socket that reads as fast as it can. The same mixed stream is sent
once through the plain ZmqPublisher (baseline) and once through the UplinkPublisher.

Latency is measured in link time, not on a wall clock: the bytes the link forwarded between a message's
publish and its arrival (what was queued ahead of it), divided by the link's rate.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

from rsu.config.publish import ZmqConfig
from rsu.config.uplink import UplinkConfig
from rsu.publish.batch import unpack
from rsu.publish.linkprobe import LinkSample
from rsu.publish.schemas import validate
from rsu.publish.uplink import LOW, UplinkPublisher
from rsu.publish.zmq_publisher import ZmqPublisher
from support import ZmqCollector, wait_until

SITE = "pole-7"
SAFETY = ("v2x/cpm", "fault", "actuation")


class ThrottleProxy:
    """Forwards one TCP connection, publisher -> subscriber at ``rate`` bytes/s (the other way unthrottled).

    ``forwarded`` (bytes through, publisher -> subscriber) is the link's clock."""

    def __init__(self, upstream_port: int, rate: int, rcvbuf: int = 8192) -> None:
        self.upstream_port, self.rate, self.rcvbuf = upstream_port, rate, rcvbuf
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.forwarded = 0
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._socks: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        self.listener.settimeout(10)
        try:
            down, _ = self.listener.accept()
        except OSError:
            return
        up = socket.socket()
        up.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, self.rcvbuf)  # before connect: a small window
        up.connect(("127.0.0.1", self.upstream_port))
        self._socks += [down, up]
        for target, args in ((self._pump, (down, up)), (self._throttled, (up, down))):
            t = threading.Thread(target=target, args=args, daemon=True)
            t.start()
            self._threads.append(t)

    def _pump(self, src: socket.socket, dst: socket.socket) -> None:
        try:
            while data := src.recv(4096):
                dst.sendall(data)
        except OSError:
            pass

    def _throttled(self, src: socket.socket, dst: socket.socket) -> None:
        chunk = max(256, self.rate // 50)
        t0 = time.monotonic()
        try:
            while not self._stop.is_set() and (data := src.recv(chunk)):
                dst.sendall(data)
                self.forwarded += len(data)
                ahead = self.forwarded / self.rate - (time.monotonic() - t0)
                if ahead > 0:
                    time.sleep(ahead)
        except OSError:
            pass

    def close(self) -> None:
        self._stop.set()
        for s in [self.listener, *self._socks]:
            s.close()


def _decode(frames: list[bytes], link_at_recv: int | None = None) -> list[dict[str, Any]]:
    """One message as ``{"topic", "payload"}`` (with the link's clock at its arrival, when measured), a batch
    unpacked into its items."""
    message: dict[str, Any] = {"topic": frames[0].decode(), "payload": json.loads(frames[1])}
    if link_at_recv is not None:
        message["link_at_recv"] = link_at_recv
    return unpack(message)


def Collector(endpoint: str, *, rcvhwm: int = 1000, paused: bool = False,  # noqa: N802 - reads as a class
              link: Callable[[], int] | None = None) -> ZmqCollector:
    """A SUB socket reading everything under ``rsu/`` (unpacking batches) on its own thread; ``paused`` plays a
    subscriber that stopped reading until :meth:`~support.ZmqCollector.resume`."""
    return ZmqCollector(endpoint, "rsu/", decode=_decode, stamp=link, paused=paused, RCVHWM=rcvhwm, RCVBUF=65536)


def _stream(pub: Any, seconds: float, link: Callable[[], int]) -> tuple[Counter[str], dict[str, list[int]]]:
    """A roadside box's mix at real-time pace: messages offered per product, and for each safety product the
    link's clock at each publish (the n-th is the one with seq n on its topic)."""
    offered: Counter[str] = Counter()
    marks: dict[str, list[int]] = defaultdict(list)
    box = {"box": [10.0, 20.0, 110.0, 220.0], "confidence": 0.9, "class_id": 2, "class_name": "car",
           "track_id": None}
    detections = {"frame_id": 0, "image_size": [1920, 1080], "detections": [box] * 12}  # ~1.2 kB, low
    objects = {"objects": []}
    t_end, tick = time.monotonic() + seconds, 0
    while time.monotonic() < t_end:
        for cam in ("cam-1", "cam-2"):  # 2 x 50 Hz detections: the heavy, low-priority load
            pub.publish("detections", {**detections, "frame_id": tick}, source=cam, schema="rsu.detections/1")
            offered["detections"] += 1
        if tick % 5 == 0:  # 20 Hz objects, 20 Hz env
            pub.publish("objects", objects, source="fusion", schema="rsu.objects/1")
            pub.publish("env", {"device": "pm-1", "values": {"pm10": 41.0 + tick}, "units": {"pm10": "ug/m3"}},
                        source="air-1", schema="rsu.env/1")
            offered["objects"] += 1
            offered["env"] += 1
        if tick % 10 == 0:  # 10 Hz CPMs, alarms and actuations: the safety products
            for product in SAFETY:
                marks[product].append(link())
            pub.publish_binary("v2x/cpm", {"encoding": "cpm-uper", "objects": 3}, bytes(180), source="cpm-1")
            pub.publish("fault", {"device": "tuyere-3", "kind": "furnace_fault", "active": tick % 20 == 0,
                                  "severity": "critical", "score": 0.97, "message": f"tick {tick}"},
                        source="furnace", schema="rsu.fault.alarm/1")
            pub.publish("actuation", {"command_id": f"c{tick}", "actuator": "sprinkler-1", "action": "on",
                                      "reason": "pm10 high"}, source="dust", schema="rsu.actuation.command/1")
            offered["v2x/cpm"] += 1
            offered["fault"] += 1
            offered["actuation"] += 1
        tick += 1
        time.sleep(0.01)  # the stream's own pace (a sensor's rate), against the link's: not a wait for anything
    return offered, marks


def _product(topic: str) -> str:
    parts = topic.split("/")
    return "/".join(parts[2:4]) if parts[2] == "v2x" else parts[2]


def _run(tmp_path: Path, shaped: bool, rate: int, seconds: float) -> dict[str, Any]:
    zcfg = ZmqConfig(endpoint="tcp://127.0.0.1:*", send_hwm=200, linger_ms=0)
    ucfg = UplinkConfig(interval_s=0.1, slow_backlog_bytes=8192, congested_backlog_bytes=32768, recover_s=1.0,
                        close_flush_s=0.0)
    zpub = ZmqPublisher(SITE, zcfg)
    pub: Any = UplinkPublisher(zpub, ucfg) if shaped else zpub
    port = int(zpub.endpoint.rsplit(":", 1)[1])
    proxy = ThrottleProxy(port, rate)
    sub = Collector(f"tcp://127.0.0.1:{proxy.port}", link=lambda: proxy.forwarded)
    try:
        assert zpub.wait_for_subscribers(1, timeout=10, topic=f"rsu/{SITE}/fault")
        offered, marks = _stream(pub, seconds, link=lambda: proxy.forwarded)
        safety = sum(offered[p] for p in SAFETY)

        def safety_received() -> int:
            return sum(1 for m in sub.snapshot() if _safety(m["topic"]))

        if shaped:  # until every safety message is through
            wait_until(lambda: safety_received() >= safety, 120, f"all {safety} safety messages over the link")
        else:  # the baseline's grace: one more second of link time (its queue holds several)
            grace_end = proxy.forwarded + rate
            wait_until(lambda: proxy.forwarded >= grace_end or safety_received() >= safety, 120,
                       "one more second of link time after the stream")
        stats = pub.stats()
    finally:
        sub.close()
        proxy.close()
        pub.close(0)
    messages = sub.snapshot()
    # link time between publish and arrival: the bytes the link carried meanwhile, over its rate
    lat = sorted((m["link_at_recv"] - marks[_product(m["topic"])][m["payload"]["seq"]]) / rate
                 for m in messages if _safety(m["topic"]))
    return {"offered": offered, "stats": stats, "messages": messages, "forwarded": proxy.forwarded,
            "safety_offered": safety, "safety_received": len(lat),
            "safety_on_time_pct": round(100 * sum(1 for v in lat if v <= 1.0) / safety, 1),
            "safety_latency_link_s": {"p50": round(lat[len(lat) // 2], 3) if lat else None,
                                      "max": round(lat[-1], 3) if lat else None}}


def _safety(topic: str) -> bool:
    return _product(topic) in SAFETY


def _by_topic(messages: list[dict[str, Any]]) -> dict[str, list[int]]:
    seqs: dict[str, list[int]] = defaultdict(list)
    for m in messages:
        seqs[m["topic"]].append(m["payload"]["seq"])
    return seqs


def test_safety_products_survive_a_throttled_link_and_low_priority_is_thinned(tmp_path: Path) -> None:
    rate, seconds = 48_000, 3.0  # the stream offers about 150 kB/s
    base = _run(tmp_path, shaped=False, rate=rate, seconds=seconds)
    shaped = _run(tmp_path, shaped=True, rate=rate, seconds=seconds)

    def safety_topics(stats: dict[str, Any]) -> dict[str, dict[str, int]]:
        return {t: v for t, v in stats["topics"].items() if _safety(t)}

    # shaped: every safety message arrived, in order, seq contiguous from 0
    up = shaped["stats"]["uplink"]
    seqs = _by_topic(shaped["messages"])
    received = Counter(_product(m["topic"]) for m in shaped["messages"])
    for product in SAFETY:
        topics = [t for t in seqs if _product(t) == product]
        assert len(topics) == 1, (product, topics)
        assert seqs[topics[0]] == list(range(shaped["offered"][product])), product
    faults = [m["payload"]["message"] for m in shaped["messages"] if _product(m["topic"]) == "fault"]
    assert faults == [f"tick {10 * i}" for i in range(shaped["offered"]["fault"])]  # order of the data too
    assert shaped["stats"]["dropped"] == 0 or all(v["dropped"] == 0 for v in safety_topics(shaped["stats"]).values())
    assert up.get("safety_lost_on_close", 0) == 0 and up.get("safety_refused", 0) == 0

    # low priority thinned first and most; every message that arrived has contiguous seq on its topic
    det_offered, det_sent = shaped["offered"]["detections"], shaped["stats"]["uplink"]["sent"].get(LOW, 0)
    assert up["thinned"].get("detections", 0) > 0 and det_sent < det_offered * 0.7
    assert up["thinned"].get("detections", 0) > up["thinned"].get("objects", 0) / 2
    assert up["changes"] >= 1 and up.get("to_slow", 0) + up.get("to_congested", 0) >= 1
    for topic, s in seqs.items():
        if _product(topic) == "detections" and shaped["stats"]["topics"][topic]["dropped"] == 0:
            assert s == list(range(len(s))), topic  # thinning uses no seq
    health = [m["payload"] for m in shaped["messages"] if m["topic"] == f"rsu/{SITE}/health/uplink"]
    assert health and health[0]["status"] == "degraded" and not validate(health[0])

    base_received = Counter(_product(m["topic"]) for m in base["messages"])
    figures = {
        "link_bytes_per_s": rate,
        "baseline": {k: base[k] for k in ("safety_offered", "safety_received", "safety_on_time_pct",
                                          "safety_latency_link_s")}
                    | {"dropped": base["stats"]["dropped"], "detections_received": base_received["detections"]},
        "uplink": {k: shaped[k] for k in ("safety_offered", "safety_received", "safety_on_time_pct",
                                          "safety_latency_link_s")}
                  | {"safety_held": up.get("held", 0),
                   "detections_offered": det_offered, "detections_received": received["detections"],
                   "detections_thinned_pct": round(100 * up["thinned"].get("detections", 0) / det_offered, 1),
                   "objects_offered": shaped["offered"]["objects"], "objects_received": received["objects"],
                   "env_offered": shaped["offered"]["env"], "env_received": received["env"],
                   "thinned": up["thinned"], "changes": [(c["from"], c["to"]) for c in up["recent_changes"]]},
    }
    print("\nuplink figures:", json.dumps(figures))
    assert shaped["safety_received"] == shaped["safety_offered"]
    # the baseline queues everything behind the detections: its safety messages wait behind more than a second
    # of link time (or are not through in time); the uplink keeps the queue ahead of them short
    assert base["safety_on_time_pct"] < 100 and base["safety_latency_link_s"]["max"] > 1.0
    assert shaped["safety_latency_link_s"]["p50"] < base["safety_latency_link_s"]["p50"] / 2


def _stall(pub: Any, zpub: ZmqPublisher, refused: Callable[[], bool]) -> tuple[ZmqCollector, int]:
    """A subscriber that stops reading while big snapshots and fault alarms are published, until its queue is
    full (``refused()``: an alarm did not fit) and 20 alarms more; then it reads. Returns it and the alarms."""
    sub = Collector(zpub.endpoint, rcvhwm=2, paused=True)
    assert zpub.wait_for_subscribers(1, timeout=10)
    blob = "x" * 400_000
    n_alarms, full_at = 0, None
    while n_alarms < 600 and (full_at is None or n_alarms < full_at + 20):
        pub.publish("cam-snapshot", {"jpeg_base64": blob}, source="cam-1")
        pub.publish("fault", {"device": "d", "kind": "furnace_fault", "active": True, "severity": "critical",
                              "score": 0.9, "message": f"alarm {n_alarms}"}, source="furnace",
                    schema="rsu.fault.alarm/1")
        n_alarms += 1
        if full_at is None and refused():
            full_at = n_alarms
    assert full_at is not None, f"the stalled subscriber's queue never filled: {pub.stats()}"
    sub.resume()
    return sub, n_alarms


def _missed(zpub: ZmqPublisher, topic: str) -> int:
    """Messages on ``topic`` the plain publisher could not queue for the subscriber (skipped or dropped)."""
    counts = zpub.stats()["topics"].get(topic, {})
    return counts.get("skipped", 0) + counts.get("dropped", 0)


def _drained(sub: ZmqCollector, zpub: ZmqPublisher) -> bool:
    """True once a marker published after everything else reached ``sub``: then so did everything that was
    queued for it (one connection keeps its order). Until then each call publishes another marker (one
    published while the subscriber's queue was still full is skipped for it)."""
    if any(m["topic"] == f"rsu/{SITE}/env/marker" for m in sub.snapshot()):
        return True
    zpub.publish("env", {"marker": True}, source="marker")
    return False


def test_safety_messages_a_full_queue_refuses_are_held_and_sent_in_order() -> None:
    zcfg = ZmqConfig(endpoint="tcp://127.0.0.1:*", send_hwm=2, linger_ms=0)
    topic = f"rsu/{SITE}/fault/furnace"
    results = {}
    for shaped in (False, True):
        zpub = ZmqPublisher(SITE, zcfg)
        pub: Any = UplinkPublisher(zpub, UplinkConfig(interval_s=0.05, announce=False)) if shaped else zpub
        if shaped:  # full once an alarm is held; then every alarm arrives, the held ones once there is room
            sub, n = _stall(pub, zpub, lambda: pub.stats()["uplink"].get("held", 0) > 0)  # noqa: B023
            sub.wait_for_count(n, 60, f"all {n} alarms", where=lambda m: m["topic"] == topic)  # noqa: B023
        else:  # full once an alarm missed the subscriber; what was queued for it arrived once a later marker did
            sub, n = _stall(pub, zpub, lambda: _missed(zpub, topic) > 0)  # noqa: B023
            wait_until(lambda: _drained(sub, zpub), 60, "a marker behind what was queued", interval=0.05)  # noqa: B023
        stats = pub.stats()
        sub.close()
        pub.close(0)
        got = [m["payload"] for m in sub.messages if m["topic"] == topic]
        results[shaped] = {"fault_offered": n, "fault_received": len(got),
                           "fault_dropped": stats["topics"][topic]["dropped"],
                           "fault_skipped": stats["topics"][topic]["skipped"],
                           "held": stats.get("uplink", {}).get("held", 0),
                           "snapshots_thinned": stats.get("uplink", {}).get("thinned", {}).get("cam-snapshot", 0)}
        if shaped:
            assert [p["seq"] for p in got] == list(range(n))
            assert [p["message"] for p in got] == [f"alarm {i}" for i in range(n)]
    print("\nstalled subscriber (baseline, uplink):", json.dumps(results[False]), json.dumps(results[True]))
    # the plain publisher sends past the full queue: the one subscriber misses alarms
    assert results[False]["fault_skipped"] + results[False]["fault_dropped"] > 0
    assert results[False]["fault_received"] < results[False]["fault_offered"]
    assert results[True]["fault_dropped"] == 0 and results[True]["held"] > 0


def test_batching_is_opt_in_and_tap_unpacks_it() -> None:
    zcfg = ZmqConfig(endpoint="tcp://127.0.0.1:*", linger_ms=0)
    ucfg = UplinkConfig(batch={"enabled": True, "products": ["env"], "max_items": 4, "max_delay_ms": 50},
                        announce=False)
    now = [0.0]  # the uplink's clock, moved by the test
    with UplinkPublisher(ZmqPublisher(SITE, zcfg), ucfg, monitor=False, clock=lambda: now[0]) as pub:
        sub = Collector(pub.endpoint)
        try:
            assert pub.wait_for_subscribers(1, timeout=10)
            pub.observe(LinkSample(backlog_bytes=ucfg.slow_backlog_bytes))  # the link turns slow
            for i in range(10):
                pub.publish("env", {"device": "pm-1", "values": {"pm10": float(i)}, "units": {}}, source="air-1",
                            t_event_ns=1_000 + i, schema="rsu.env/1")
            pub.publish("fault", {"device": "d", "kind": "k", "active": True, "severity": "critical",
                                  "score": None, "message": "never batched"}, source="f", schema="rsu.fault.alarm/1")
            pub.batcher.flush_due()  # not yet due: the last 2 readings wait for their batch's max_delay_ms
            assert pub.batcher.pending() == 2
            now[0] += 0.1  # past max_delay_ms (50 ms)
            pub.batcher.flush_due()  # what the monitor thread does every few ms
            sub.wait_for_count(11, 60, "the 10 readings (3 batches) and the alarm")
        finally:
            sub.close()
        stats = pub.stats()["uplink"]
    env = [m for m in sub.messages if m["topic"] == f"rsu/{SITE}/env/air-1"]
    assert [m["payload"]["values"]["pm10"] for m in env] == [float(i) for i in range(10)]
    assert [m["batch"]["seq"] for m in env] == [0] * 4 + [1] * 4 + [2] * 2  # contiguous seq, one per batch
    assert all(not validate(m["payload"]) for m in env)  # each unpacked item is a valid rsu.env/1 payload
    fault = [m for m in sub.messages if "fault" in m["topic"]]
    assert len(fault) == 1 and "batch" not in fault[0]
    assert stats["batches"] == 3 and stats["batched_items"] == 10


def test_rsu_tap_prints_one_line_per_batched_item() -> None:
    from rsu.publish.tap import tap

    ucfg = UplinkConfig(batch={"enabled": True, "max_items": 3}, announce=False)
    with UplinkPublisher(ZmqPublisher(SITE, ZmqConfig(endpoint="tcp://127.0.0.1:*")), ucfg, monitor=False) as pub:
        lines: list[dict[str, Any]] = []
        t = threading.Thread(target=tap, args=(pub.endpoint,),
                             kwargs={"emit": lines.append, "topic": f"rsu/{SITE}/env", "count": 3, "timeout": 10})
        t.start()
        assert pub.wait_for_subscribers(1, timeout=10)
        pub.observe(LinkSample(backlog_bytes=ucfg.congested_backlog_bytes))  # congested: normal kept 1 in 2
        for i in range(6):
            pub.publish("env", {"device": "pm-1", "values": {"pm10": float(i)}, "units": {}}, source="air-1")
        t.join(10)
    assert [(m["payload"]["values"]["pm10"], m["batch"]["index"]) for m in lines] == [(0.0, 0), (2.0, 1), (4.0, 2)]
    assert pub.stats()["uplink"]["thinned"] == {"env": 3}
