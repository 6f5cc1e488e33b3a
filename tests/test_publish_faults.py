"""The publisher under faults: a restart (boot id), a subscriber that never reads, held safety messages at stop."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

import pytest
import zmq

from rsu.config.publish import ZmqConfig
from rsu.config.uplink import UplinkConfig
from rsu.publish.safety_journal import read_held
from rsu.publish.schemas import validate
from rsu.publish.uplink import UplinkPublisher
from rsu.publish.zmq_publisher import ZmqPublisher
from support import Subscriber, ZmqSub, free_port, wait_until

SITE = "fault-site"
WAIT_S = 60.0  # generous: a loaded 2-core machine

CHILD = """
import sys
from rsu.config.publish import ZmqConfig
from rsu.publish.zmq_publisher import ZmqPublisher
pub = ZmqPublisher("fault-site", ZmqConfig(endpoint=sys.argv[1]))
assert pub.wait_for_subscribers(1, timeout=60)
for i in range(3):
    pub.publish("env", {"device": "d", "values": {"i": i}, "units": {}}, source="s1", schema="rsu.env/1")
print("sent", flush=True)
sys.stdin.read()  # until killed
"""


def test_a_restarted_box_has_a_new_boot_and_seq_restarts_at_0(tmp_path: Path) -> None:
    endpoint = f"tcp://127.0.0.1:{free_port()}"
    runs = []
    with ZmqSub(endpoint, RECONNECT_IVL=20) as sub:
        for _ in range(2):
            child = subprocess.Popen([sys.executable, "-c", CHILD, endpoint], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, text=True)
            try:
                runs.append(sub.recv_json(3, WAIT_S))
            finally:
                child.kill()  # SIGKILL: no orderly close
                child.communicate()
    (first, second) = runs
    for run in runs:
        assert [p["seq"] for p in run] == [0, 1, 2]
        assert len({p["boot"] for p in run}) == 1 and len(run[0]["boot"]) == 16
        assert all(validate(p) == [] for p in run)
    assert first[0]["boot"] != second[0]["boot"]  # (boot, seq) tells the restart from 3 lost messages


def _stuck(ctx: zmq.Context, endpoint: str) -> ZmqSub:
    """A subscriber that connects, subscribes and never reads (small buffers, so its queue fills soon)."""
    return ZmqSub(endpoint, context=ctx, RCVHWM=1, RCVBUF=4096)


@pytest.mark.skipif(not Path("/proc/net/tcp").exists(), reason="needs Linux's per-connection send queues")
def test_a_subscriber_that_never_reads_costs_only_itself() -> None:
    ctx = zmq.Context()
    zpub = ZmqPublisher(SITE, ZmqConfig(endpoint="tcp://127.0.0.1:*", send_hwm=20, linger_ms=0))
    pub = UplinkPublisher(zpub, UplinkConfig(interval_s=0.05, recover_s=0.5, close_flush_s=0.0))
    stuck = _stuck(ctx, zpub.endpoint)
    reader = Subscriber(zpub.endpoint, context=ctx)  # reads everything on its own thread
    blob = "x" * 8000
    n = 1500
    try:
        assert zpub.wait_for_subscribers(2, timeout=WAIT_S)
        for i in range(n):  # in step with the reader, so only the stuck subscriber ever falls behind
            if i % 5 == 0:
                pub.publish("fault", {"device": "d", "kind": "k", "active": True, "severity": "critical",
                                      "score": 1.0, "message": f"alarm {i}"}, source="furnace",
                            schema="rsu.fault.alarm/1")
            else:
                pub.publish("env", {"device": "d", "values": {"i": i}, "note": blob}, source="plant",
                            schema="rsu.env/1")
            reader.wait_for_count(i + 1, timeout=WAIT_S, what=f"message {i + 1} at the reader")
        stats = pub.stats()
    finally:
        reader.close()
        stuck.close()
        pub.close(0)
        ctx.term()
    seqs: dict[str, list[int]] = defaultdict(list)
    for topic, payload, _ in reader.messages:
        seqs[topic].append(payload["seq"])
    counts = Counter({t: len(s) for t, s in seqs.items()})
    assert counts == {f"rsu/{SITE}/fault/furnace": n // 5, f"rsu/{SITE}/env/plant": n - n // 5}
    for topic, s in seqs.items():
        assert s == list(range(len(s))), topic  # every message, safety and normal, no gap
    up = stats["uplink"]
    print("\nstuck subscriber:", json.dumps({"skipped": stats["skipped"], "dropped": stats["dropped"],
                                             "thinned": up["thinned_total"], "held": up.get("held", 0),
                                             "state": up["state"]}))
    assert stats["skipped"] > 0  # the stuck subscriber's queue did fill: it, and only it, missed messages
    assert stats["dropped"] == 0 and up["thinned_total"] == 0 and up.get("to_congested", 0) == 0


def _alarm(i: int) -> dict[str, Any]:
    return {"device": "d", "kind": "k", "active": True, "severity": "critical", "score": 1.0,
            "message": f"alarm {i} " + "y" * 200_000}


def test_held_safety_messages_are_journalled_at_stop_and_sent_at_next_start(tmp_path: Path) -> None:
    journal = tmp_path / "state" / "uplink-held.jsonl"
    ctx = zmq.Context()
    cfg = UplinkConfig(interval_s=0.05, close_flush_s=0.2, announce=False)
    zpub = ZmqPublisher(SITE, ZmqConfig(endpoint="tcp://127.0.0.1:*", send_hwm=2, linger_ms=0))
    pub = UplinkPublisher(zpub, cfg, journal=journal)
    pub.isolating.port = None  # the only subscriber is behind: the uplink is the bottleneck, whatever /proc says
    stuck = _stuck(ctx, zpub.endpoint)
    t_events = []
    try:
        assert zpub.wait_for_subscribers(1, timeout=WAIT_S)
        for i in range(3000):  # until the kernel's buffers and the subscriber's queue are full and alarms held
            t_events.append(1_700_000_000_000_000_000 + i)
            pub.publish("fault", _alarm(i), source="furnace", t_event_ns=t_events[-1], schema="rsu.fault.alarm/1")
            if pub.stats()["uplink"]["held_now"] >= 80:  # 16 MB: more than the kernel's buffers take
                break
        assert pub.stats()["uplink"]["held_now"] >= 80, "the subscriber's queue never filled"
    finally:
        pub.close(0)
        stuck.close()
    up = pub.stats()["uplink"]
    held_now = up["safety_journalled"]  # what the stop deadline left held: on disk, not lost
    assert up.get("safety_lost_on_close", 0) == 0 and held_now > 0
    assert up["sent"]["safety"] + held_now == up["offered"]["safety"] == len(t_events)
    assert journal.exists()

    # next start: the journalled alarms go out first, with their event times, from seq 0 of the new run
    zpub2 = ZmqPublisher(SITE, ZmqConfig(endpoint="tcp://127.0.0.1:*", linger_ms=0))
    pub2 = UplinkPublisher(zpub2, cfg, journal=journal)
    assert not journal.exists()  # taken: a second restart does not send them twice
    reader = Subscriber(zpub2.endpoint, context=ctx)
    try:
        assert zpub2.wait_for_subscribers(1, timeout=WAIT_S)
        pub2.publish("fault", _alarm(999), source="furnace", schema="rsu.fault.alarm/1")
        reader.wait_for_count(held_now + 1, timeout=WAIT_S, what="the journalled alarms and the new one")
        stats2 = pub2.stats()["uplink"]
    finally:
        reader.close()
        pub2.close(0)
        ctx.term()
    got = [m.payload for m in reader.messages]
    assert [p["seq"] for p in got] == list(range(held_now + 1))
    assert [p["t_event"] for p in got[:held_now]] == t_events[-held_now:]
    assert got[-1]["message"].startswith("alarm 999 ")
    assert all(validate(p) == [] for p in got)
    assert stats2["replayed_from_journal"] == held_now and stats2.get("journal_bad", 0) == 0


def test_a_damaged_journal_line_is_counted_and_skipped(tmp_path: Path) -> None:
    path = tmp_path / "held.jsonl"
    good = {"product": "fault", "data": {"device": "d"}, "source": None, "t_event_ns": 5, "schema": None,
            "default_source": "rsu", "body": "AAE="}
    path.write_bytes(json.dumps(good).encode() + b"\n{not json\n" + json.dumps({**good, "t_event_ns": 1e300}).encode()
                     + b"\n" + json.dumps([1, 2]).encode() + b"\n\xff\xfe\n")
    messages, bad = read_held(path)
    assert bad == 4 and [(m.product, m.body, m.t_event_ns) for m in messages] == [("fault", b"\x00\x01", 5)]
    assert not path.exists()
    assert read_held(path) == ([], 0)


@pytest.mark.skipif(not Path("/proc/net/tcp").exists(), reason="needs Linux's per-connection send queues")
def test_only_the_publishers_own_connections_count_as_subscribers() -> None:
    from rsu.publish.linkprobe import endpoint_port, tcp_backlog

    ctx = zmq.Context()
    zpub = ZmqPublisher(SITE, ZmqConfig(endpoint="tcp://127.0.0.1:*", linger_ms=0))
    port = endpoint_port(zpub.endpoint)
    other = socket.create_server(("127.0.0.1", 0))
    stray = socket.socket()  # an unrelated outgoing connection whose local port is the publisher's port
    stray.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sub = _stuck(ctx, zpub.endpoint)
    try:
        stray.bind(("127.0.0.2", port))
        stray.connect(other.getsockname())
        assert zpub.wait_for_subscribers(1, timeout=WAIT_S)
        # the monitor's accepted event arrives from the I/O thread
        wait_until(lambda: len(zpub.peers.inodes() or ()) >= 1, WAIT_S, "the subscriber's connection in the peers")
        assert len(tcp_backlog(port) or []) == 2  # by port alone: the stray connection counts too
        assert len(tcp_backlog(port, inodes=zpub.peers.inodes()) or []) == 1
    finally:
        stray.close()
        other.close()
        sub.close()
        zpub.close(0)
        ctx.term()
