"""``rsu tap`` as a real subprocess, next to a plain pyzmq SUB, against a real publisher on loopback."""

from __future__ import annotations

import base64
import json
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import zmq
from rsu_sdk import HealthEvent, SensorReading

from rsu.app.testing import Subscriber
from rsu.bench.zmq import sample_objects
from rsu.config.publish import ZmqConfig
from rsu.publish import ZmqPublisher, publish_product
from rsu.publish.schemas import validate
from rsu.publish.tap import tap, to_json_line

T = 1_767_225_600_000_000_000


def rsu_cmd(*args: str) -> list[str]:
    return [sys.executable, "-m", "rsu", *args]


@pytest.fixture()
def pub() -> Iterator[ZmqPublisher]:
    publisher = ZmqPublisher("test-site", ZmqConfig(endpoint="tcp://127.0.0.1:*"))
    yield publisher
    publisher.close(0)


def publish_sample(pub: ZmqPublisher) -> int:
    """3 objects, 2 env readings, 1 health event, 1 binary message; returns how many."""
    objects = sample_objects(5)
    for i in range(3):
        publish_product(pub, objects)
    for i in range(2):
        publish_product(pub, SensorReading(source="air-1", t_event_ns=T + i, device="st-1", values={"pm10": 40.0 + i}))
    publish_product(pub, HealthEvent(source="host", t_event_ns=T, component="source:cam-1", status="ok"))
    pub.publish_binary("v2x/cpm", {"encoding": "test-opaque"}, b"\x00\x01binary", source="rsu-1")
    return 7


def check_messages(messages: list[dict[str, Any]]) -> None:
    """Valid payloads, topics matching the envelope, seq +1 per topic from 0."""
    seqs: dict[str, list[int]] = {}
    for msg in messages:
        payload = msg["payload"]
        assert validate(payload) == [], (msg["topic"], validate(payload))
        assert msg["topic"].startswith(f"rsu/{payload['site']}/")
        seqs.setdefault(msg["topic"], []).append(payload["seq"])
    assert seqs == {
        "rsu/test-site/objects/fusion": [0, 1, 2],
        "rsu/test-site/env/air-1": [0, 1],
        "rsu/test-site/health/host": [0],
        "rsu/test-site/v2x/cpm/rsu-1": [0],
    }


def test_tap_subprocess_and_plain_sub_receive_valid_payloads(pub: ZmqPublisher, tmp_path: Path) -> None:
    proc = subprocess.Popen(rsu_cmd("tap", pub.endpoint, "--count", "7", "--timeout", "60"), cwd=tmp_path,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    sub = Subscriber(pub.endpoint, "rsu/")
    try:
        assert pub.wait_for_subscribers(2, timeout=60), "rsu tap never subscribed"
        n = publish_sample(pub)
        out, err = proc.communicate(timeout=60)
        assert proc.returncode == 0, err
        lines = [json.loads(line) for line in out.splitlines()]
        assert len(lines) == n and all(set(m) == {"topic", "payload"} for m in lines)
        check_messages(lines)
        binary = lines[-1]["payload"]
        assert base64.b64decode(binary["body_base64"]) == b"\x00\x01binary" and "test-opaque" in binary["note"]

        plain = [{"topic": m.topic, "payload": m.payload} for m in sub.wait_for_count(n, timeout=60)]
        check_messages(plain)
        assert [m["payload"]["t_publish"] for m in plain] == [m["payload"]["t_publish"] for m in lines]
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
        sub.close()


def test_tap_topic_filter(pub: ZmqPublisher, tmp_path: Path) -> None:
    proc = subprocess.Popen(rsu_cmd("tap", pub.endpoint, "--topic", "rsu/test-site/env", "--count", "2",
                                    "--timeout", "60", "--no-plugins"),
                            cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert pub.wait_for_subscribers(1, timeout=60, topic="rsu/test-site/env/air-1")
        publish_sample(pub)
        out, err = proc.communicate(timeout=60)
        assert proc.returncode == 0, err
        assert [json.loads(line)["topic"] for line in out.splitlines()] == ["rsu/test-site/env/air-1"] * 2
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()


def test_tap_times_out_with_a_clear_message(tmp_path: Path) -> None:
    ctx = zmq.Context()
    probe = ctx.socket(zmq.PUB)
    probe.bind("tcp://127.0.0.1:*")
    idle = probe.getsockopt_string(zmq.LAST_ENDPOINT)  # a bound publisher that never sends
    try:
        run = subprocess.run(rsu_cmd("tap", idle, "--timeout", "0.3", "--no-plugins"), cwd=tmp_path,
                             capture_output=True, text=True, timeout=60)
    finally:
        probe.close(0)
        ctx.term()
    assert run.returncode == 1 and run.stdout == ""
    assert f"no message from {idle} within 0.3 s" in run.stderr


def test_tap_usage_errors(tmp_path: Path) -> None:
    key = tmp_path / "server.key"
    key.write_text("x", encoding="utf-8")
    run = subprocess.run(rsu_cmd("tap", "tcp://127.0.0.1:5556", "--server-key", str(key), "--no-plugins"),
                         capture_output=True, text=True, timeout=60)
    assert run.returncode == 2 and "--client-key" in run.stderr
    run = subprocess.run(rsu_cmd("tap", "bogus", "--timeout", "1", "--no-plugins"), capture_output=True,
                         text=True, timeout=60)
    assert run.returncode == 2 and "cannot connect to 'bogus'" in run.stderr


def test_tap_core_decoders_and_bad_messages() -> None:
    """Decoders by header encoding; malformed messages are counted and skipped, not fatal."""
    ctx = zmq.Context()
    xpub = ctx.socket(zmq.XPUB)
    xpub.bind("tcp://127.0.0.1:*")
    endpoint = xpub.getsockopt_string(zmq.LAST_ENDPOINT)
    got: list[dict[str, Any]] = []
    skipped: list[str] = []

    def broken(body: bytes) -> dict[str, Any]:
        raise ValueError("not my format")

    decoders = {"len-enc": lambda body: {"length": len(body), "raw": body}, "broken": broken}
    result: dict[str, Any] = {}
    thread = threading.Thread(target=lambda: result.update(r=tap(
        endpoint, emit=got.append, count=3, timeout=30, decoders=decoders, on_skip=skipped.append)))
    thread.start()
    try:
        assert xpub.poll(30_000), "tap never subscribed"
        assert xpub.recv() == b"\x01"
        head = {"schema": "rsu.v2x.cpm/1", "site": "s", "source": "x", "seq": 0, "t_event": 1, "t_publish": 1}
        xpub.send_multipart([b"rsu/s/v2x/cpm", b"not json"])
        xpub.send_multipart([b"rsu/s/v2x/cpm"])
        xpub.send_multipart([b"rsu/s/env", b"[1, 2]"])
        xpub.send_multipart([b"rsu/s/env", b"{}", b"a", b"b"])
        for enc in ("len-enc", "broken", "unknown"):
            xpub.send_multipart([b"rsu/s/v2x/cpm", json.dumps({**head, "encoding": enc, "bytes": 3}).encode(),
                                 b"abc"])
        thread.join(30)
    finally:
        xpub.close(0)
        ctx.term()
    r = result["r"]
    assert (r.received, r.skipped, r.timed_out) == (3, 4, False) and len(skipped) == 4
    assert got[0]["payload"]["body"] == {"length": 3, "raw": b"abc"}
    assert json.loads(to_json_line(got[0]))["payload"]["body"] == {"length": 3, "raw": "616263"}  # bytes as hex
    assert "not my format" in got[1]["payload"]["note"] and got[1]["payload"]["body_base64"] == "YWJj"
    assert "no decoder for encoding 'unknown'" in got[2]["payload"]["note"]


def test_tap_decodes_a_real_cpm_with_the_plugin_encoder(pub: ZmqPublisher, tmp_path: Path) -> None:
    """The decoder comes from collect_encoders(create_plugin_manager()): here traffic_broadcast's cpm-uper."""
    generator = pytest.importorskip("rsu_traffic_broadcast.generator")
    builder = pytest.importorskip("rsu_traffic_broadcast.cpm_builder")
    from rsu_sdk.testing import DEFAULT_SITE

    cpm = generator.CpmGenerator(builder.Station(station_id=5, site=DEFAULT_SITE)).on_objects(sample_objects(3))[0]
    proc = subprocess.Popen(rsu_cmd("tap", pub.endpoint, "--count", "1", "--timeout", "60"), cwd=tmp_path,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert pub.wait_for_subscribers(1, timeout=60)
        pub.publish_binary("v2x/cpm", cpm.header(5), cpm.body, source="rsu-1", t_event_ns=cpm.t_event_ns)
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 0, err
    payload = json.loads(out)["payload"]
    assert "note" not in payload, payload.get("note")
    assert payload["body"]["header"]["stationId"] == 5
    assert validate({k: v for k, v in payload.items() if k != "body"}) == []
