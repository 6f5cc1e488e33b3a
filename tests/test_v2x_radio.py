"""rsu_sdk.v2x.Radio on real UDP sockets: modes, CPM vs DENM framing, the pcap option, errors counted."""

from __future__ import annotations

import shutil
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from rsu_sdk.v2x import CircularArea, GnAddress, Radio, parse_ethernet, parse_gn, read_pcap

LAT, LON = 48.1372281, 11.5754669
T_NS = 1_790_000_000_123_456_789


@pytest.fixture
def stack() -> Iterator[socket.socket]:
    """A stand-in for the vendor stack: a UDP socket on loopback."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    sock.settimeout(10.0)
    yield sock
    sock.close()


def _radio(stack: socket.socket, mode: str, **extra: object) -> Radio:
    return Radio({"mode": mode, "host": "127.0.0.1", "port": stack.getsockname()[1], **extra},
                 station_id=4711, lat=LAT, lon=LON, clock=lambda: T_NS)


def test_udp_framed_cpm_and_denm(stack: socket.socket) -> None:
    radio = _radio(stack, "udp-framed", denm_radius_m=300)
    radio.send(b"cpm", kind="cpm")
    radio.send(b"denm-1", kind="denm")
    area = CircularArea(lat=48.2, lon=11.4, radius_m=1200)
    radio.send(b"denm-2", kind="denm", destination_area=area)
    cpm, denm1, denm2 = (parse_gn(stack.recv(65536)) for _ in range(3))
    radio.close()
    assert cpm is not None and denm1 is not None and denm2 is not None
    assert (cpm.header_type, cpm.btp_port, cpm.payload, cpm.hop_limit) == (5, 2009, b"cpm", 1)
    assert (denm1.header_type, denm1.header_subtype, denm1.btp_port, denm1.traffic_class) == (4, 0, 2002, 0)
    assert denm1.area == CircularArea(lat=LAT, lon=LON, radius_m=300)       # default: around the box
    assert denm2.area == area and (denm1.sequence_number, denm2.sequence_number) == (0, 1)
    for p in (cpm, denm1, denm2):
        assert p.source.address == GnAddress.from_station_id(4711)
        assert abs(p.source.lat - LAT) < 1e-7 and abs(p.source.lon - LON) < 1e-7
    stats = radio.stats()
    assert stats["sent"] == {"cpm": 1, "denm": 2} and stats["errors"] == 0 and stats["mode"] == "udp-framed"


def test_udp_bare_sends_the_payload_alone(stack: socket.socket) -> None:
    radio = _radio(stack, "udp-bare")
    radio.send(b"\x02\x0e payload", kind="cpm")
    assert stack.recv(100) == b"\x02\x0e payload"
    radio.close()


def test_pcap_option_writes_every_frame_sent(stack: socket.socket, tmp_path: Path) -> None:
    path = tmp_path / "radio.pcap"
    radio = _radio(stack, "udp-bare", pcap=str(path))
    radio.send(b"cpm-body", kind="cpm")
    radio.send(b"denm-body", kind="denm")
    radio.close()
    records = list(read_pcap(path))
    assert [t for t, _ in records] == [T_NS // 1000 * 1000] * 2
    parsed = [parse_ethernet(frame) for _, frame in records]
    assert [(p.btp_port, p.payload) for p in parsed if p] == [(2009, b"cpm-body"), (2002, b"denm-body")]
    assert radio.stats()["pcap_frames"] == 2


@pytest.mark.skipif(shutil.which("tshark") is None, reason="tshark not installed (apt-get install tshark)")
def test_tshark_reads_the_pcap(stack: socket.socket, tmp_path: Path) -> None:
    path = tmp_path / "radio.pcap"
    radio = _radio(stack, "udp-framed", pcap=str(path))
    radio.send(b"\x02\x0e" + bytes(30), kind="cpm")
    radio.close()
    out = subprocess.run(["tshark", "-r", str(path), "-T", "fields", "-E", "separator=|", "-e", "geonw.bh.version",
                          "-e", "geonw.ch.htype", "-e", "btpb.dstport", "-e", "geonw.src_pos.addr.mid"],
                         capture_output=True, text=True, timeout=120, check=True).stdout
    assert out.split() == ["1|0x50|2009|02:00:00:00:12:67"]


def test_errors_are_counted_and_a_bad_kind_is_named(stack: socket.socket) -> None:
    radio = _radio(stack, "udp-framed")
    radio.send(b"\x00" * 70_000, kind="cpm")               # does not fit the GN length field
    with pytest.raises(ValueError, match="kind"):
        radio.send(b"x", kind="cam")  # type: ignore[arg-type]
    radio.close()
    radio.send(b"late", kind="cpm")
    stats = radio.stats()
    assert stats["errors"] == 2 and stats["sent"] == {} and "closed" in stats["last_error"]


@pytest.mark.parametrize(("settings", "where"), [
    ({"mode": "ethernet"}, "interface"), ({"mode": "udp-bare"}, "host"), ({"mode": "radio-waves"}, "mode"),
])
def test_bad_settings_name_the_key(settings: dict, where: str) -> None:
    with pytest.raises(ValueError, match=where):
        Radio(settings, station_id=1, lat=LAT, lon=LON)


def test_a_bad_position_is_a_start_up_error(stack: socket.socket) -> None:
    with pytest.raises(ValueError, match="latitude"):
        Radio({"mode": "udp-bare", "host": "127.0.0.1", "port": 9}, station_id=1, lat=float("nan"), lon=LON)
