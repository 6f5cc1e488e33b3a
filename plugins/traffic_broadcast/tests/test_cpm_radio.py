"""UDP forwarding to a real socket on 127.0.0.1; failures are counted, never raised."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest

from rsu_traffic_broadcast.radio import UdpForwarder


@pytest.fixture
def receiver() -> Iterator[socket.socket]:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    sock.settimeout(2.0)
    yield sock
    sock.close()


def test_each_message_arrives_as_one_datagram(receiver: socket.socket) -> None:
    fwd = UdpForwarder("127.0.0.1", receiver.getsockname()[1])
    messages = [bytes([i]) * (10 + i) for i in range(5)]
    assert all(fwd.send(m) for m in messages)
    assert [receiver.recv(65536) for _ in messages] == messages
    assert (fwd.stats.sent, fwd.stats.bytes, fwd.stats.errors) == (5, sum(map(len, messages)), 0)
    fwd.close()


def test_failures_are_counted_not_raised(receiver: socket.socket) -> None:
    fwd = UdpForwarder("127.0.0.1", receiver.getsockname()[1])
    assert fwd.send(b"\x00" * 70_000) is False           # larger than any UDP datagram
    assert fwd.stats.errors == 1 and "Error" in (fwd.stats.last_error or "")
    assert fwd.send(b"ok") is True
    assert receiver.recv(100) == b"ok"
    fwd.close()
    assert fwd.send(b"late") is False
    assert (fwd.stats.sent, fwd.stats.errors) == (1, 2)


def test_sending_never_blocks_when_the_receiver_does_not_read(receiver: socket.socket) -> None:
    receiver.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    fwd = UdpForwarder("127.0.0.1", receiver.getsockname()[1])
    fwd._sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)  # noqa: SLF001 - make the buffer fill up
    for _ in range(2000):
        fwd.send(b"\x01" * 1000)
    assert fwd.stats.sent + fwd.stats.errors == 2000
    fwd.close()

