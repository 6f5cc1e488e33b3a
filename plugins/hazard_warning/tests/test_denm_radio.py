"""DENMs over a real udp-framed radio on 127.0.0.1: GeoNetworking geo-broadcast, BTP-B port 2002."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest
from hazard_helpers import ZONES, car, cycle
from rsu_sdk import PluginConfigError
from rsu_sdk.testing import run_plugin
from rsu_sdk.v2x import GnAddress, parse_gn

from rsu_hazard_warning.plugin import HazardWarning


@pytest.fixture
def receiver() -> Iterator[socket.socket]:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    sock.settimeout(10.0)
    yield sock
    sock.close()


def test_every_denm_goes_out_as_a_geo_broadcast(receiver: socket.socket) -> None:
    config = {"zones": ZONES, "station_id": 4711, "destination_radius_m": 250, "cancel_repeat_s": 0,
              "radio": {"mode": "udp-framed", "host": "127.0.0.1", "port": receiver.getsockname()[1]}}
    cycles = [cycle(k, car(1, 30.0, -1.75, ve=0.0 if k < 35 else 8.0)) for k in range(50)]
    run = run_plugin(HazardWarning, cycles, config=config)
    sent = run.messages("v2x/denm")
    assert [m.data["transmission"] for m in sent] == ["new", "repeat", "repeat", "cancel"]
    for message in sent:
        packet = parse_gn(receiver.recv(65536))
        assert packet is not None
        assert (packet.header_type, packet.header_subtype, packet.btp_port) == (4, 0, 2002)   # GBC circle, DENM
        assert packet.payload == message.body
        assert packet.source.address == GnAddress.from_station_id(4711)
        assert packet.area is not None and packet.area.radius_m == 250
        assert abs(packet.area.lat - 48.0) < 1e-6 and abs(packet.area.lon - 11.0) < 1e-6  # around the event
    assert run.plugin.stats()["radio"]["sent"] == {"denm": 4}


def test_a_radio_that_cannot_open_stops_start_up_naming_it() -> None:
    with pytest.raises(PluginConfigError) as err:
        run_plugin(HazardWarning, [], config={"zones": ZONES, "radio": {"mode": "ethernet"}})
    assert "radio:" in str(err.value) and "interface" in str(err.value)
