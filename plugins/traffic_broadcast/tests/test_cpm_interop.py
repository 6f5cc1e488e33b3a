"""The two interoperability defects: cpmContainers' size extension bit (both readings, each decoded by a
decoder of that reading) and the vehicleSubClass values the standard's constraint allows."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from typing import Any

import pytest
from cpm_helpers import (
    DEFAULT_SITE,
    T0_NS,
    allowed_vehicle_subclasses,
    check_real_constraints,
    diff,
    objects,
    official_decode,
)
from rsu_sdk import ObjectList
from rsu_sdk.testing import make_fused_object, run_plugin

from rsu_traffic_broadcast import codec
from rsu_traffic_broadcast.cpm_builder import CLASS_MAP, SensorRegistry, Station, build_cpm, object_class
from rsu_traffic_broadcast.plugin import TrafficBroadcast

STATION = Station(station_id=77, site=DEFAULT_SITE)


def _cpm(n: int) -> dict[str, Any]:
    return build_cpm(objects(n), station=STATION, reference_ns=T0_NS, sensors=SensorRegistry())


def _decodes_to(spec: Any, body: bytes, value: dict[str, Any]) -> bool:
    try:
        return diff(official_decode(spec, body), value) == []
    except Exception:  # noqa: BLE001 - a decoder of the other reading fails in many ways
        return False


@pytest.mark.parametrize("n", [0, 1, 10, 30])
def test_standard_encoding_decodes_only_with_the_x691_reading(official: Any, official_fixed_size: Any,
                                                              n: int) -> None:
    value = _cpm(n)
    body = codec.encode(value)
    assert codec.recode_containers_size(body, size_extension_bit=True) == body
    assert _decodes_to(official, body, value)
    assert not _decodes_to(official_fixed_size, body, value)


@pytest.mark.parametrize("n", [0, 1, 10, 30])
def test_compatibility_encoding_decodes_only_with_the_other_reading(official: Any, official_fixed_size: Any,
                                                                    n: int) -> None:
    value = _cpm(n)
    standard = codec.encode(value)
    compat = codec.recode_containers_size(standard, size_extension_bit=False)
    assert _decodes_to(official_fixed_size, compat, value)
    assert not _decodes_to(official, compat, value)
    # exactly one bit fewer: the extension bit of the count
    assert len(standard) - len(compat) in (0, 1)
    assert codec.specification("uper", size_extension_bit=False).decode(
        "CollectivePerceptionMessage", compat)["header"]["stationId"] == 77


def test_recoding_something_that_is_not_a_cpm_is_a_codec_error() -> None:
    with pytest.raises(codec.CpmCodecError, match="re-encode"):
        codec.recode_containers_size(b"\x02\x0e", size_extension_bit=False)


@pytest.fixture
def udp_receiver() -> Iterator[socket.socket]:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    sock.settimeout(10.0)
    yield sock
    sock.close()


@pytest.mark.parametrize("extension_bit", [True, False])
def test_the_radio_setting_selects_the_reading(official: Any, official_fixed_size: Any,
                                               udp_receiver: socket.socket, extension_bit: bool) -> None:
    cycles = [ObjectList(source="fusion", t_event_ns=T0_NS + k * 100_000_000,
                         objects=tuple(make_fused_object(i + 1, position_enu=(5.0 * i + 3.0 * k, 2.0, 0.0))
                                       for i in range(4))) for k in range(3)]
    config = {"station_id": 9, "radio": {"mode": "udp-bare", "host": "127.0.0.1",
                                         "port": udp_receiver.getsockname()[1],
                                         "cpm_containers_extension_bit": extension_bit}}
    run = run_plugin(TrafficBroadcast, cycles, config=config, name="traffic_broadcast")
    published = run.messages("v2x/cpm")
    assert published
    receiver_reading, other = (official, official_fixed_size) if extension_bit else (official_fixed_size, official)
    for message in published:
        datagram = udp_receiver.recv(65536)
        expected = codec.decode(message.body)          # the bus always carries the standard encoding
        assert _decodes_to(official, message.body, expected)
        assert _decodes_to(receiver_reading, datagram, expected)
        assert not _decodes_to(other, datagram, expected)
    [stats] = run.plugin.stats()["radios"]
    assert (stats["extension_bit"], stats["sent"], stats["recode_errors"]) == (extension_bit,
                                                                               {"cpm": len(published)}, 0)


def test_every_vehicle_sub_class_the_builder_emits_is_allowed(official: Any) -> None:
    # ``official``: the official modules are there (skipped with how to get them, or required in CI)
    allowed = allowed_vehicle_subclasses()
    assert allowed == {0, *range(5, 12), 14}
    emitted = {v for branch, v in CLASS_MAP.values() if branch == "vehicleSubClass"}
    assert emitted and emitted <= allowed, sorted(emitted - allowed)
    assert object_class("motorcycle") == ("vruSubClass", ("motorcyclist", 2))
    assert object_class("Moped") == ("vruSubClass", ("motorcyclist", 1))


def test_two_wheelers_decode_with_the_official_modules_as_motorcyclists(official: Any) -> None:
    bikes = [make_fused_object(i + 1, class_name="motorcycle", position_enu=(4.0 * i, 1.0, 0.0)) for i in range(3)]
    value = build_cpm(bikes, station=STATION, reference_ns=T0_NS, sensors=SensorRegistry())
    decoded = official_decode(official, codec.encode(value))
    classes = [o["classification"][0]["objectClass"]
               for o in decoded["payload"]["cpmContainers"][-1]["containerData"]["perceivedObjects"]]
    assert classes == [("vruSubClass", ("motorcyclist", 2))] * 3


@pytest.mark.parametrize("sub_class", [1, 2, 3, 4, 12, 13, 15])
def test_the_cross_check_rejects_values_the_constraint_excludes(official: Any, sub_class: int) -> None:
    value = _cpm(2)
    obj = value["payload"]["cpmContainers"][-1]["containerData"]["perceivedObjects"][1]
    obj["classification"] = [{"objectClass": ("vehicleSubClass", sub_class), "confidence": 50}]
    with pytest.raises(AssertionError, match=f"vehicleSubClass {sub_class} is not allowed"):
        check_real_constraints(value)
    if sub_class <= 14:  # inside the PER-visible range: encodable, so only the real check can catch it
        with pytest.raises(AssertionError, match="not allowed"):
            official_decode(official, codec.encode(value))
