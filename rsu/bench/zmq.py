"""``rsu bench zmq``: the publisher's throughput and publish -> receive latency over tcp loopback.

Payload: a realistic ``rsu.objects/1`` message (30 tracked objects, about 12 kB of JSON). Baseline, same run:
a raw pyzmq PUB socket sending the same bytes (already encoded), so the ratios show what the envelope,
JSON encoding, validation and locking cost on top of ZeroMQ itself. Latency is a ping: publish one message,
receive it on a SUB socket of the same thread, repeat.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import zmq

from rsu.bench.timing import summary_ms
from rsu.config.publish import ZmqConfig
from rsu.publish.payloads import to_payload
from rsu.publish.zmq_publisher import ZmqPublisher
from rsu_sdk import FusedObject, ObjectList

__all__ = ["run", "sample_objects"]

_TOPIC = "rsu/bench/objects/fusion"


def sample_objects(n: int = 30, seed: int = 0) -> ObjectList:
    """``n`` plausible tracked road users around a site at 48.1 N, 11.5 E."""
    rng = np.random.default_rng(seed)
    classes = ("car", "truck", "pedestrian", "bicycle", "motorcycle")
    objects = []
    for i in range(n):
        east, north = rng.uniform(-80, 80, size=2)
        ve, vn = rng.normal(0, 8, size=2)
        objects.append(FusedObject(
            track_id=1000 + i, position_enu=(east, north, 0.0), velocity_enu=(ve, vn),
            heading_deg=float(np.degrees(np.arctan2(ve, vn)) % 360), class_name=classes[i % len(classes)],
            confidence=float(rng.uniform(0.5, 1.0)), lat=48.1 + north / 111_320, lon=11.5 + east / 74_400,
            sources=("cam-1", "radar-1"), size=(4.5, 1.8, 1.5), age_s=float(rng.uniform(0, 60)),
            position_std_m=0.4,
        ))
    return ObjectList(source="fusion", t_event_ns=time.time_ns(), objects=tuple(objects))


def _subscriber(ctx: zmq.Context, endpoint: str) -> zmq.Socket:
    sub = ctx.socket(zmq.SUB)
    sub.setsockopt(zmq.RCVHWM, 0)
    sub.subscribe(b"rsu/")
    sub.connect(endpoint)
    return sub


def _throughput(send: Callable[[], None], sub: zmq.Socket, n: int) -> tuple[float, int]:
    """Send ``n`` messages from this thread while another receives; return (messages/s received, received)."""
    got = 0
    t_last = 0

    def receive() -> None:
        nonlocal got, t_last
        while got < n and sub.poll(1000):
            sub.recv_multipart()
            got += 1
            t_last = time.perf_counter_ns()

    thread = threading.Thread(target=receive, daemon=True)
    thread.start()
    t0 = time.perf_counter_ns()
    for _ in range(n):
        send()
    thread.join()
    return (got / ((t_last - t0) / 1e9) if got else 0.0), got


def _latency(send: Callable[[], None], sub: zmq.Socket, n: int) -> list[float]:
    out = []
    for _ in range(n):
        t0 = time.perf_counter_ns()
        send()
        if not sub.poll(2000):
            raise RuntimeError("bench zmq: a message did not arrive within 2 s")
        sub.recv_multipart()
        out.append((time.perf_counter_ns() - t0) / 1e6)
    return out


def _ours(data: dict[str, Any], n_tp: int, n_lat: int) -> dict[str, Any]:
    ctx = zmq.Context()
    pub = ZmqPublisher("bench", ZmqConfig(endpoint="tcp://127.0.0.1:*"))
    sub = _subscriber(ctx, pub.endpoint)
    try:
        if not pub.wait_for_subscribers(1, timeout=10):
            raise RuntimeError("bench zmq: the subscriber did not connect within 10 s")

        def send() -> None:
            pub.publish("objects", data, source="fusion", schema="rsu.objects/1")

        lat = _latency(send, sub, n_lat)
        rate, got = _throughput(send, sub, n_tp)
        return {"rate": rate, "received": got, "lat": lat, "dropped": pub.stats()["dropped"]}
    finally:
        sub.close(0)
        pub.close(0)
        ctx.term()


def _raw(payload: bytes, n_tp: int, n_lat: int) -> dict[str, Any]:
    ctx, pub_ctx = zmq.Context(), zmq.Context()  # two contexts, as for ours: each side has its own I/O thread
    pub = pub_ctx.socket(zmq.PUB)
    pub.setsockopt(zmq.SNDHWM, ZmqConfig().send_hwm)
    pub.bind("tcp://127.0.0.1:*")
    sub = _subscriber(ctx, pub.getsockopt_string(zmq.LAST_ENDPOINT))
    topic = _TOPIC.encode()
    try:
        deadline = time.monotonic() + 10
        while True:  # slow joiner: send until the first message arrives, then drain
            pub.send_multipart([topic, payload])
            if sub.poll(10):
                break
            if time.monotonic() > deadline:
                raise RuntimeError("bench zmq: the raw subscriber did not connect within 10 s")
        while sub.poll(50):
            sub.recv_multipart()

        def send() -> None:
            pub.send_multipart([topic, payload], flags=zmq.NOBLOCK)

        lat = _latency(send, sub, n_lat)
        rate, got = _throughput(send, sub, n_tp)
        return {"rate": rate, "received": got, "lat": lat}
    finally:
        sub.close(0)
        pub.close(0)
        ctx.term()
        pub_ctx.term()


def run(quick: bool = False) -> dict[str, Any]:
    """Measure; keys ``messages_per_s`` and ``p99_ms`` plus the raw pyzmq baseline and ratios."""
    n_tp, n_lat = (2000, 300) if quick else (20000, 3000)
    objects = sample_objects()
    data = to_payload(objects).data
    probe = ZmqPublisher("bench", ZmqConfig(endpoint="inproc://bench-probe"))
    probe_sub = probe._ctx.socket(zmq.SUB)
    probe_sub.subscribe(b"")
    probe_sub.connect(probe.endpoint)
    probe.wait_for_subscribers(1, 5)
    probe.publish("objects", data, source="fusion", schema="rsu.objects/1", t_event_ns=objects.t_event_ns)
    payload = probe_sub.recv_multipart()[1]  # the exact bytes the publisher puts on the wire
    probe_sub.close(0)
    probe.close(0)

    raw = _raw(payload, n_tp, n_lat)
    ours = _ours(data, n_tp, n_lat)
    ours_lat, raw_lat = summary_ms(ours["lat"]), summary_ms(raw["lat"])
    return {
        "messages_per_s": round(ours["rate"], 1),
        "p99_ms": ours_lat["p99_ms"],
        "p50_ms": ours_lat["p50_ms"],
        "raw_messages_per_s": round(raw["rate"], 1),
        "raw_p50_ms": raw_lat["p50_ms"],
        "raw_p99_ms": raw_lat["p99_ms"],
        "messages_per_s_over_raw": round(ours["rate"] / raw["rate"], 3) if raw["rate"] else None,
        "p99_over_raw": round(ours_lat["p99_ms"] / raw_lat["p99_ms"], 3) if raw_lat["p99_ms"] else None,
        "received": ours["received"],
        "raw_received": raw["received"],
        "dropped": ours["dropped"],
        "sent": n_tp,
        "latency_samples": n_lat,
        "objects": len(objects.objects),
        "payload_bytes": len(payload),
        "transport": "tcp://127.0.0.1",
        "baseline": "raw pyzmq PUB of the same pre-encoded bytes, same run",
    }
