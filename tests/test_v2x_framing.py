"""GeoNetworking / BTP-B framing of rsu_sdk.v2x: field positions per EN 302 636-4-1, and parse(frame) == input."""

from __future__ import annotations

import struct

import pytest

from rsu_sdk.v2x import (
    BTP_PORTS,
    CircularArea,
    GnAddress,
    LongPositionVector,
    ethernet_frame,
    frame_gn,
    gn_timestamp_ms,
    parse_ethernet,
    parse_gn,
)
from rsu_sdk.v2x.gn import encode_lifetime

ADDRESS = GnAddress.from_station_id(0x12345678)
SOURCE = LongPositionVector(address=ADDRESS, lat=48.1372281, lon=-11.5754669, timestamp_ms=123_456_789,
                            speed_mps=-1.25, heading_deg=271.3)


def test_gn_address_from_the_station_id() -> None:
    assert ADDRESS.mid == bytes.fromhex("020012345678")
    assert ADDRESS.pack() == bytes.fromhex("bc00020012345678")  # M=1, ST=15 (RSU), reserved 0, MID
    assert GnAddress.unpack(ADDRESS.pack()) == ADDRESS
    assert str(ADDRESS) == "02:00:12:34:56:78"
    with pytest.raises(ValueError, match="station_id"):
        GnAddress.from_station_id(2**32)


def test_long_position_vector_layout() -> None:
    packed = SOURCE.pack()
    assert len(packed) == 24
    tst, lat, lon, pai_speed, heading = struct.unpack("!Iii HH", packed[8:])
    assert (tst, lat, lon, heading) == (123_456_789, 481_372_281, -115_754_669, 2713)
    assert pai_speed >> 15 == 1 and pai_speed & 0x7FFF == (-125) & 0x7FFF
    back = LongPositionVector.unpack(packed)
    assert back == SOURCE
    with pytest.raises(ValueError, match="latitude"):
        LongPositionVector(address=ADDRESS, lat=91.0, lon=0.0).pack()


def test_single_hop_broadcast_header_fields() -> None:
    payload = b"\x02\x0e" + bytes(range(40))
    packet = frame_gn(payload, source=SOURCE, btp_port=BTP_PORTS["cpm"])
    assert len(packet) == 4 + 8 + 28 + 4 + len(payload)
    version_nh, _, lt, rhl = packet[:4]
    assert (version_nh >> 4, version_nh & 0xF, lt, rhl) == (1, 1, encode_lifetime(1.0), 1)
    ch_nh, ht_hst, tc, flags, plen, mhl, _ = struct.unpack("!BBBBHBB", packet[4:12])
    assert (ch_nh >> 4, ht_hst, tc, flags, plen, mhl) == (2, 0x50, 2, 0, len(payload) + 4, 1)
    assert packet[12:36] == SOURCE.pack()
    assert struct.unpack("!HH", packet[40:44]) == (2009, 0)
    parsed = parse_gn(packet)
    assert parsed is not None
    assert (parsed.header_type, parsed.header_subtype, parsed.btp_port, parsed.payload) == (5, 0, 2009, payload)
    assert parsed.source == SOURCE and parsed.area is None


def test_geo_broadcast_circle_header_fields() -> None:
    area = CircularArea(lat=48.1, lon=11.6, radius_m=750)
    packet = frame_gn(b"denm", source=SOURCE, btp_port=BTP_PORTS["denm"], area=area, sequence_number=65537,
                      traffic_class=0, lifetime_s=60.0)
    assert len(packet) == 4 + 8 + 44 + 4 + 4
    assert packet[2:4] == bytes([(6 << 2) | 2, 10])          # 6 x 10 s, RHL 10
    assert packet[5] == 0x40                                  # GBC, circle
    assert struct.unpack("!H", packet[12:14]) == (1,)         # SN mod 2**16
    assert struct.unpack("!iiHHHH", packet[40:56]) == (481_000_000, 116_000_000, 750, 0, 0, 0)
    parsed = parse_gn(packet)
    assert parsed is not None
    assert (parsed.btp_port, parsed.sequence_number, parsed.area, parsed.payload) == (2002, 1, area, b"denm")


@pytest.mark.parametrize(("seconds", "byte"), [(1.0, 0x05), (60.0, 0x1A), (0.05, 0x04), (6300.0, 0xFF),
                                               (0.5, 10 << 2)])
def test_lifetime_encoding(seconds: float, byte: int) -> None:
    assert encode_lifetime(seconds) == byte


def test_values_that_do_not_fit_are_named() -> None:
    with pytest.raises(ValueError, match="btp_port"):
        frame_gn(b"", source=SOURCE, btp_port=70000)
    with pytest.raises(ValueError, match="payload"):
        frame_gn(b"\x00" * 65533, source=SOURCE, btp_port=2009)
    with pytest.raises(ValueError, match="radius_m"):
        CircularArea(lat=0.0, lon=0.0, radius_m=0)
    with pytest.raises(ValueError, match="lifetime"):
        encode_lifetime(0.0)


def test_ethernet_frame_and_its_parser() -> None:
    packet = frame_gn(b"x", source=SOURCE, btp_port=2009)
    frame = ethernet_frame(packet, source_mac=ADDRESS.mid)
    assert frame[:6] == b"\xff" * 6 and frame[6:12] == ADDRESS.mid and frame[12:14] == b"\x89\x47"
    padded = frame + b"\x00" * (60 - len(frame))              # short frames are padded on the wire
    assert parse_ethernet(padded) == parse_gn(packet)


def test_timestamp_is_tai_ms_since_2004_mod_2_32() -> None:
    unix_2004_ns = 1_072_915_200_000 * 1_000_000
    assert gn_timestamp_ms(unix_2004_ns) == 0
    # 2020-01-01: 5 leap seconds since 2004
    assert gn_timestamp_ms(1_577_836_800_000 * 1_000_000) == (1_577_836_800_000 - 1_072_915_200_000 + 5000) % 2**32
