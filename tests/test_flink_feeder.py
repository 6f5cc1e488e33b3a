"""The Flink runner's socket feeder micro-batches: under load several products share a line (in feed order,
none lost), at low rates each product goes at once as its own line. Real sockets; no Flink needed."""

from __future__ import annotations

import socket

import pytest
from rsu_sdk import SensorReading

from rsu.app.testing import clock_seconds
from rsu.core.clock import ManualClock
from rsu.pipeline.codec import decode_batch_line, encode_line
from rsu.pipeline.flink.feeder import SocketFeeder


def _reading(i: int) -> SensorReading:
    return SensorReading(source="t", t_event_ns=1_700_000_000_000_000_000 + i, device=f"d{i % 3}",
                         values={"a": float(i)})


def _read_lines(conn: socket.socket) -> list[str]:
    data = b""
    conn.settimeout(5)
    while chunk := conn.recv(1 << 16):
        data += chunk
    return data.decode().splitlines()


def _connected(feeder: SocketFeeder) -> socket.socket:
    conn = socket.create_connection(feeder.address)
    assert feeder.wait_connected(5)
    return conn


def test_burst_is_packed_in_order_up_to_max_batch() -> None:
    clock = ManualClock()
    feeder = SocketFeeder(max_batch=16, batch_wait_ms=5.0, batch_above_per_s=100.0, monotonic=clock_seconds(clock))
    conn = _connected(feeder)
    for i in range(500):
        clock.advance(0.0001)  # 10,000 products/s on the feeder's clock, however busy the machine is
        feeder.send(_reading(i), t_fed_ns=i)
    feeder.close()
    lines = _read_lines(conn)
    items = [pair for line in lines for pair in decode_batch_line(line)]
    assert [t for t, _ in items] == list(range(500))
    assert [e.values["a"] for _, e in items] == [float(i) for i in range(500)]
    assert len(lines) < 100 and max(len(decode_batch_line(x)) for x in lines) == 16
    assert feeder.stats()["sent"] == 500 and feeder.stats()["lines"] == len(lines)


def test_low_rate_goes_at_once_one_per_line() -> None:
    """One product a second (on the feeder's clock): each is written by ``send`` itself, as its own line, not
    held back for the 50 ms line spacing."""
    clock = ManualClock()
    feeder = SocketFeeder(max_batch=64, batch_wait_ms=50.0, batch_above_per_s=2_000.0,
                          monotonic=clock_seconds(clock))
    conn = _connected(feeder)
    conn.settimeout(30)
    for i in range(5):
        clock.advance(1.0)
        feeder.send(_reading(i))
        assert (feeder.stats()["sent"], feeder.stats()["lines"]) == (i + 1, i + 1)  # out before send returned
        got = b""
        while not got.endswith(b"\n"):
            got += conn.recv(1 << 16)
        assert [e.values["a"] for _, e in decode_batch_line(got.decode())] == [float(i)]
    feeder.close()
    assert feeder.stats()["largest_batch"] == 1


def test_products_before_the_job_connects_are_kept() -> None:
    feeder = SocketFeeder(max_batch=8)
    for i in range(20):
        feeder.send(_reading(i))
    conn = _connected(feeder)
    feeder.close()
    items = [pair for line in _read_lines(conn) for pair in decode_batch_line(line)]
    assert [e.values["a"] for _, e in items] == [float(i) for i in range(20)]
    assert feeder.stats()["buffered"] == 20


def test_single_product_lines_still_decode() -> None:
    assert decode_batch_line(encode_line(_reading(3), 42).decode().rstrip("\n"))[0][0] == 42


def test_bad_settings_are_refused() -> None:
    with pytest.raises(ValueError, match="max_batch"):
        SocketFeeder(max_batch=0)


def test_job_lag_spaces_lines_more_then_relaxes() -> None:
    """Outputs coming back late (a backlog inside the job) widen the line spacing, up to 8x; prompt ones
    bring it back to batch_wait_ms."""
    clock = ManualClock()
    feeder = SocketFeeder(batch_wait_ms=2.0, monotonic=clock_seconds(clock))
    try:
        for _ in range(30):
            feeder.note_lag(0.5)
            clock.advance(0.021)  # the feeder looks at the lag every 20 ms
        assert feeder.stats()["spacing_ms"] == pytest.approx(16.0)
        for _ in range(30):
            feeder.note_lag(0.001)
            clock.advance(0.021)
        assert feeder.stats()["spacing_ms"] == pytest.approx(2.0)
    finally:
        feeder.close()
