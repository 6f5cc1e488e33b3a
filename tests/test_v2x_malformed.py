"""Malformed GN frames (truncated headers, wrong versions, lengths that lie, garbage) are counted, never raised,
also when they arrive at a radio's receiver thread."""

from __future__ import annotations

import random
import socket
import struct
import threading

import pytest

from rsu_sdk.v2x import CircularArea, GnAddress, GnCounters, LongPositionVector, Radio, frame_gn, parse_gn
from rsu_sdk.v2x import parse_ethernet

SOURCE = LongPositionVector(address=GnAddress.from_station_id(99), lat=48.0, lon=11.0, timestamp_ms=5)
SHB = frame_gn(b"\x02\x0ecpm-bytes", source=SOURCE, btp_port=2009)
GBC = frame_gn(b"\x02\x01denm", source=SOURCE, btp_port=2002, area=CircularArea(lat=48.0, lon=11.0, radius_m=90))


def _with(packet: bytes, offset: int, value: bytes) -> bytes:
    return packet[:offset] + value + packet[offset + len(value):]


@pytest.mark.parametrize("packet", [SHB, GBC], ids=["shb", "gbc"])
def test_every_truncation_is_counted_by_reason(packet: bytes) -> None:
    counters = GnCounters()
    for n in range(len(packet)):
        assert parse_gn(packet[:n], counters) is None
    assert counters.malformed == len(packet) and counters.packets == 0
    reasons = set(counters.reasons)
    assert {"truncated basic header", "truncated common header", "payload length mismatch"} <= reasons
    assert any(r.endswith("extended header") for r in reasons)
    assert parse_gn(packet, counters) is not None and counters.packets == 1


@pytest.mark.parametrize("version", [2, 3, 7, 15])
def test_wrong_versions(version: int) -> None:
    counters = GnCounters()
    assert parse_gn(bytes([(version << 4) | 1]) + SHB[1:], counters) is None
    assert counters.reasons == {"unsupported version": 1}


@pytest.mark.parametrize("claimed", [0, 1, 13, 14, 200, 65535])
def test_payload_lengths_that_lie(claimed: int) -> None:
    counters = GnCounters()
    assert parse_gn(_with(SHB, 8, struct.pack("!H", claimed)), counters) is None
    assert counters.reasons == {"payload length mismatch": 1}


@pytest.mark.parametrize(("offset", "value", "reason"), [
    (0, b"\x12", "secured packet (not supported)"),
    (0, b"\x13", "basic header next header"),
    (5, b"\x90", "unknown header type"),
    (5, b"\x10", "header type 1/0 not handled"),          # beacon
    (5, b"\x51", "header type 5/1 not handled"),          # multi-hop TSB
    (3, b"\x05", "remaining hop limit above maximum"),
    (24, struct.pack("!i", 900_000_001), "position vector out of range"),
])
def test_other_lies_are_named(offset: int, value: bytes, reason: str) -> None:
    counters = GnCounters()
    assert parse_gn(_with(SHB, offset, value), counters) is None
    assert counters.reasons == {reason: 1}


def test_a_gbc_with_an_impossible_area_and_a_missing_btp_header() -> None:
    counters = GnCounters()
    assert parse_gn(_with(GBC, 12 + 28 + 8, b"\x00\x00"), counters) is None      # radius 0
    no_btp = _with(SHB, 8, struct.pack("!H", 2))[:4 + 8 + 28 + 2]                # 2 bytes where BTP needs 4
    assert parse_gn(no_btp, counters) is None
    assert counters.reasons == {"GBC area out of range": 1, "truncated BTP header": 1}


def test_random_garbage_never_raises() -> None:
    rng = random.Random(7)
    counters = GnCounters()
    for i in range(3000):
        data = bytearray(SHB if i % 2 else GBC)
        for _ in range(rng.randint(1, 6)):
            data[rng.randrange(len(data))] = rng.randrange(256)
        if i % 3 == 0:
            data = data[:rng.randrange(len(data) + 1)]
        parse_gn(bytes(data), counters)
        parse_ethernet(bytes(data), counters)
    assert counters.packets + counters.malformed == 6000
    assert counters.malformed > 3000


def test_a_radio_counts_malformed_datagrams_and_keeps_receiving() -> None:
    probe = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    probe.bind(("127.0.0.1", 0))
    listen_port = probe.getsockname()[1]
    probe.close()
    seen: list[int] = []
    done = threading.Event()

    def on_packet(packet: object) -> None:
        seen.append(1)
        if len(seen) == 1:
            raise RuntimeError("a plugin callback that fails")
        done.set()

    radio = Radio({"mode": "udp-framed", "host": "127.0.0.1", "port": 9, "listen_port": listen_port},
                  station_id=1, lat=48.0, lon=11.0, on_packet=on_packet)
    sender = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        for bad in (b"", b"\x10", SHB[:20], bytes([0x31]) + SHB[1:], _with(SHB, 8, b"\x00\x05")):
            sender.sendto(bad, ("127.0.0.1", listen_port))
        sender.sendto(SHB, ("127.0.0.1", listen_port))
        sender.sendto(GBC, ("127.0.0.1", listen_port))
        assert done.wait(30.0)
    finally:
        sender.close()
        radio.close()
    stats = radio.stats()
    assert stats["received"]["packets"] == 2 and stats["callback_errors"] == 1
    assert stats["received"]["malformed"] == 5
    assert stats["received"]["neighbours"] == {"02:00:00:00:00:63": 2}
