"""The host-side test kit (rsu/app/testing.py) on real parts: a real box, a real publisher, real sockets."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest
import zmq
from rsu_sdk import Alarm

from rsu.app.testing import AdvancingStop, Subscriber, clock_seconds, free_port, running_box, wait_for
from rsu.config.publish import ZmqConfig
from rsu.core.clock import ManualClock
from rsu.publish.zmq_publisher import ZmqPublisher

SITE = {"name": "kit", "lat": 48.0, "lon": 11.0}
RAW = {"site": SITE, "publish": {"zmq": {"endpoint": "tcp://127.0.0.1:*"}, "health_interval_s": 0.1},
       "pipeline": {"checkpoint": {"enabled": False}}}


def test_wait_for_returns_the_truthy_value_and_names_what_timed_out() -> None:
    calls = iter([0, [], None, "ready"])
    assert wait_for(lambda: next(calls), 30, "the fourth call") == "ready"
    with pytest.raises(AssertionError, match=r"waiting for nothing at all \(last: \[\]\)"):
        wait_for(list, 0.05, "nothing at all")


def test_free_port_can_be_bound_for_tcp_and_udp() -> None:
    for kind in (socket.SOCK_STREAM, socket.SOCK_DGRAM):
        port = free_port(kind=kind)
        with socket.socket(socket.AF_INET, kind) as s:
            s.bind(("127.0.0.1", port))
            assert s.getsockname()[1] == port


def test_subscriber_collects_in_order_filters_and_skips_bad_messages() -> None:
    pub = ZmqPublisher("kit", ZmqConfig(endpoint="tcp://127.0.0.1:*"))
    ctx = zmq.Context()
    raw = ctx.socket(zmq.PUB)
    raw_port = raw.bind_to_random_port("tcp://127.0.0.1")
    try:
        with Subscriber(pub.endpoint, "rsu/kit/env") as sub, \
                Subscriber(f"tcp://127.0.0.1:{raw_port}", context=ctx) as junk:
            assert pub.wait_for_subscribers(1, timeout=60)
            for i in range(5):
                pub.publish("env", {"device": "d", "values": {"x": float(i)}, "units": {}}, source="s1",
                            schema="rsu.env/1")
            pub.publish("health", {"component": "c", "status": "ok", "message": ""}, schema="rsu.health/1")
            got = sub.wait_for_count(5, schema="rsu.env/1", timeout=60)
            assert [m.payload["seq"] for m in got] == [0, 1, 2, 3, 4]
            assert {m.topic for m in got} == {"rsu/kit/env/s1"} and sub.under("rsu/kit/health") == []
            assert len(sub.of("rsu.env/1")) == 5
            with pytest.raises(AssertionError, match="got 5"):
                sub.wait_for_count(6, schema="rsu.env/1", timeout=0.05)

            def send_junk() -> bool:  # a raw PUB has no subscriber count: resend until the SUB sees one
                raw.send_multipart([b"rsu/x", b"not json"])
                raw.send_multipart([b"rsu/x", b"[1, 2]"])
                raw.send_multipart([b"rsu/x", b'{"schema": "ok/1"}', b"\x00body"])
                return bool(junk.of("ok/1")) and junk.bad >= 2

            wait_for(send_junk, 60, "the raw publisher's messages")
            assert all(m.payload == {"schema": "ok/1"} for m in junk.messages)  # the bad ones were skipped
            assert junk.messages[0].body == b"\x00body"
    finally:
        raw.close(0)
        ctx.term()
        pub.close(0)


def test_running_box_publishes_and_always_stops(tmp_path: Path) -> None:
    with pytest.raises(RuntimeError, match="the test failed"):
        with running_box(RAW, tmp_path) as built:
            box = built.box
            assert box.router_alive()
            raise RuntimeError("the test failed")
    assert not box.router_alive() and box.stop_event.is_set()

    clock = ManualClock()
    with running_box(RAW, tmp_path, clock=clock) as built, \
            Subscriber(built.endpoint, "rsu/kit/fault") as sub:
        assert built.box.ingest(Alarm(source="kit", t_event_ns=clock.wall_ns(), device="d", kind="fault",
                                      active=True))
        assert built.box.drain(30)
        built.box.stop()  # stopped inside the block: running_box does not stop it again
        summary = built.summary()
    assert summary["stages"]["routed"]["Alarm"] == 1
    assert sub.bad == 0


def test_advancing_stop_moves_a_manual_clock_instead_of_sleeping() -> None:
    clock = ManualClock(wall_ns=10**18, monotonic_ns=0)
    stop = AdvancingStop(clock)
    now = clock_seconds(clock)
    assert stop.wait(1.5) is False and stop.wait(0) is False
    assert (now(), clock.wall_ns(), stop.waited_s, stop.waits) == (1.5, 10**18 + 1_500_000_000, 1.5, 1)
    stop.set()
    assert stop.wait(2.0) is True and now() == 3.5


def test_modbus_server_serves_registers_logs_writes_and_comes_back() -> None:
    from support import ModbusServer
    from pymodbus.client import ModbusTcpClient
    from pymodbus.simulator import DataType, SimData

    bits = [SimData(0, values=[False] * 16, datatype=DataType.BITS)]
    blocks = (bits, list(bits), [SimData(10, values=-35, datatype=DataType.INT16)],
              [SimData(0, values=[172.5], datatype=DataType.FLOAT32)])
    with ModbusServer(blocks) as server:
        client = ModbusTcpClient("127.0.0.1", port=server.port, timeout=10, retries=0)
        try:
            assert client.connect()
            regs = client.read_input_registers(0, count=2, device_id=1).registers
            assert client.convert_from_registers(regs, client.DATATYPE.FLOAT32) == 172.5
            assert client.read_holding_registers(10, count=1, device_id=1).registers == [0x10000 - 35]
            assert not client.write_coil(3, True, device_id=1).isError()
            assert not client.write_coils(5, [True, False], device_id=1).isError()
            assert server.writes == [(3, True), (5, True), (6, False)]
            client.close()
            server.stop()  # the device goes away ...
            assert not client.connect()
            server.start()  # ... and comes back on the same port, with its initial data
            assert client.connect() and client.read_input_registers(0, count=2, device_id=1).registers == regs
        finally:
            client.close()
