"""The plugin's radios on real sockets on 127.0.0.1: per-radio mode, GN/BTP framing, failures counted."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest
from cpm_helpers import DEFAULT_SITE, T0_NS, objects
from rsu_sdk import ObjectList, PluginConfigError
from rsu_sdk.testing import run_plugin
from rsu_sdk.v2x import GnAddress, parse_gn

from rsu_traffic_broadcast.plugin import TrafficBroadcast
from rsu_traffic_broadcast.radio import CpmRadio


@pytest.fixture
def receivers() -> Iterator[list[socket.socket]]:
    socks = []
    for _ in range(2):
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sock.bind(("127.0.0.1", 0))
        sock.settimeout(10.0)
        socks.append(sock)
    yield socks
    for sock in socks:
        sock.close()


def test_each_radio_sends_in_its_own_mode(receivers: list[socket.socket]) -> None:
    bare, framed = receivers
    config = {"station_id": 4711,
              "radio": {"mode": "udp-bare", "host": "127.0.0.1", "port": bare.getsockname()[1]},
              "radios": [{"mode": "udp-framed", "host": "127.0.0.1", "port": framed.getsockname()[1]}]}
    cycles = [ObjectList(source="fusion", t_event_ns=T0_NS, objects=tuple(objects(5)))]
    run = run_plugin(TrafficBroadcast, cycles, config=config, name="traffic_broadcast")
    [message] = run.messages("v2x/cpm")
    assert bare.recv(65536) == message.body
    packet = parse_gn(framed.recv(65536))
    assert packet is not None
    assert (packet.header_type, packet.header_subtype, packet.btp_port) == (5, 0, 2009)   # SHB, BTP-B CPM
    assert packet.payload == message.body
    assert packet.source.address == GnAddress.from_station_id(4711)
    assert abs(packet.source.lat - DEFAULT_SITE.lat) < 1e-6 and abs(packet.source.lon - DEFAULT_SITE.lon) < 1e-6
    modes = [(r["mode"], r["sent"]) for r in run.plugin.stats()["radios"]]
    assert modes == [("udp-bare", {"cpm": 1}), ("udp-framed", {"cpm": 1})]


def test_the_old_radio_form_still_means_bare_udp(receivers: list[socket.socket]) -> None:
    radio = CpmRadio({"host": "127.0.0.1", "port": receivers[0].getsockname()[1]}, station_id=1, site=DEFAULT_SITE)
    radio.send(b"\x02\x0e")  # not a CPM, but the standard reading sends the bytes as they are
    assert receivers[0].recv(100) == b"\x02\x0e"
    assert radio.stats()["mode"] == "udp-bare"
    radio.close()


def test_failures_are_counted_not_raised(receivers: list[socket.socket]) -> None:
    radio = CpmRadio({"mode": "udp-bare", "host": "127.0.0.1", "port": receivers[0].getsockname()[1],
                      "cpm_containers_extension_bit": False}, station_id=1, site=DEFAULT_SITE)
    radio.send(b"\x00\x01")                       # cannot be re-encoded for the other reading
    assert radio.stats()["recode_errors"] == 1
    big = CpmRadio({"mode": "udp-bare", "host": "127.0.0.1", "port": receivers[0].getsockname()[1]},
                   station_id=1, site=DEFAULT_SITE)
    big.send(b"\x00" * 70_000)                    # larger than any UDP datagram
    big.send(b"ok")
    assert receivers[0].recv(100) == b"ok"
    big.close()
    big.send(b"late")
    stats = big.stats()
    assert (stats["sent"], stats["errors"]) == ({"cpm": 1}, 2)
    assert "closed" in stats["last_error"]
    radio.close()


def test_sending_never_blocks_when_the_receiver_does_not_read(receivers: list[socket.socket]) -> None:
    receivers[0].setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    radio = CpmRadio({"mode": "udp-framed", "host": "127.0.0.1", "port": receivers[0].getsockname()[1]},
                     station_id=1, site=DEFAULT_SITE)
    for _ in range(2000):
        radio.send(b"\x01" * 1000)
    stats = radio.stats()
    assert stats["sent"].get("cpm", 0) + stats["errors"] == 2000
    radio.close()


@pytest.mark.parametrize(("radio", "where"), [
    ({"mode": "ethernet"}, r"radio: interface: required"),
    ({"mode": "udp-framed", "host": "127.0.0.1"}, r"radio: port: required"),
    ({"mode": "carrier-pigeon", "host": "x", "port": 1}, "mode"),
    ({"mode": "ethernet", "interface": "no-such-if0"}, r"radio: .*(No such device|Operation not permitted)"),
    ({"mode": "udp-bare", "host": "127.0.0.1", "port": 9, "listen_port": 9}, "listen_port"),
])
def test_bad_radio_settings_are_config_errors(radio: dict, where: str) -> None:
    with pytest.raises(PluginConfigError, match=where):
        run_plugin(TrafficBroadcast, [], config={"radio": radio})
