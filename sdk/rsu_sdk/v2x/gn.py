"""GeoNetworking (ETSI EN 302 636-4-1 v1.4.1) and BTP-B (EN 302 636-5-1) headers, built from plain values.

Only what a roadside unit originates: unsecured packets (basic header ``NH = 1``, common header), a
single-hop broadcast (SHB, header type 5/0) for CPMs and a geo-broadcast to a circular area (GBC, 4/0) for
DENMs, each followed by a BTP-B header (destination port, destination port info) and the facilities payload.
All multi-byte fields are big-endian (network order), as the standard draws them.
"""

from __future__ import annotations

import math
import struct
import time
from dataclasses import dataclass

__all__ = [
    "BTP_PORTS",
    "ETHERTYPE_GN",
    "GN_VERSION",
    "HT_GBC",
    "HT_TSB",
    "BROADCAST_MAC",
    "CircularArea",
    "GnAddress",
    "LongPositionVector",
    "STATION_TYPE_RSU",
    "TRAFFIC_CLASS",
    "encode_lifetime",
    "ethernet_frame",
    "frame_gn",
    "gn_timestamp_ms",
]

ETHERTYPE_GN = 0x8947
"""EtherType of GeoNetworking over ITS-G5 / Ethernet."""
GN_VERSION = 1
"""The GN protocol version this module writes (EN 302 636-4-1 v1.3.1 onwards)."""
BROADCAST_MAC = b"\xff" * 6

NH_COMMON = 1   # basic header: next is the common header (unsecured)
NH_BTP_B = 2    # common header: next is BTP-B
HT_GBC, HST_CIRCLE = 4, 0
HT_TSB, HST_SHB = 5, 0
STATION_TYPE_RSU = 15

BTP_PORTS: dict[str, int] = {"cam": 2001, "denm": 2002, "cpm": 2009}
"""Well-known BTP destination ports (ETSI TS 103 248) of the messages the box sends."""
TRAFFIC_CLASS: dict[str, int] = {"denm": 0, "cam": 2, "cpm": 2}
"""Default traffic class id per message kind (0 = highest priority)."""

ITS_EPOCH_UNIX_MS = 1_072_915_200_000  # 2004-01-01T00:00:00Z
_LEAPS_UNIX_MS = (1_136_073_600_000, 1_230_768_000_000, 1_341_100_800_000, 1_435_708_800_000, 1_483_228_800_000)
_LT_BASES_S = (0.05, 1.0, 10.0, 100.0)


def gn_timestamp_ms(unix_ns: int | None = None) -> int:
    """The position vector's TST: TAI milliseconds since 2004-01-01T00:00:00Z, modulo 2**32."""
    unix_ms = (time.time_ns() if unix_ns is None else unix_ns) // 1_000_000
    leaps = sum(1 for t in _LEAPS_UNIX_MS if unix_ms >= t)
    return (unix_ms - ITS_EPOCH_UNIX_MS + 1000 * leaps) % (1 << 32)


def encode_lifetime(seconds: float) -> int:
    """The basic header's LT byte (6-bit multiplier, 2-bit base): exact when possible, else rounded down.

    :raises ValueError: ``seconds`` is not in 0.05 .. 6300.
    """
    if not (0.05 <= seconds <= 63 * 100.0):
        raise ValueError(f"lifetime: {seconds} s is outside 0.05 .. 6300 s")
    for base in (3, 2, 1, 0):  # the coarsest base that states the value exactly
        multiplier = round(seconds / _LT_BASES_S[base])
        if 1 <= multiplier <= 63 and math.isclose(multiplier * _LT_BASES_S[base], seconds, rel_tol=1e-9):
            return (multiplier << 2) | base
    base = next(b for b, unit in enumerate(_LT_BASES_S) if seconds / unit <= 63)
    return (max(1, int(seconds / _LT_BASES_S[base])) << 2) | base


@dataclass(frozen=True, slots=True, kw_only=True)
class GnAddress:
    """A GN address (64 bits): manual flag, ITS station type (0..31) and a 48-bit link-layer id (MID)."""

    mid: bytes
    station_type: int = STATION_TYPE_RSU
    manual: bool = True

    def __post_init__(self) -> None:
        if len(self.mid) != 6:
            raise ValueError(f"GnAddress.mid: expected 6 bytes, got {len(self.mid)}")
        if not 0 <= self.station_type <= 31:
            raise ValueError(f"GnAddress.station_type: expected 0..31, got {self.station_type}")

    @classmethod
    def from_station_id(cls, station_id: int, *, station_type: int = STATION_TYPE_RSU) -> GnAddress:
        """The box's address: MID ``02:00`` + the 32-bit StationId (a locally administered unicast MAC)."""
        if not 0 <= station_id <= 0xFFFFFFFF:
            raise ValueError(f"station_id: expected 0..4294967295, got {station_id}")
        return cls(mid=b"\x02\x00" + station_id.to_bytes(4, "big"), station_type=station_type)

    def pack(self) -> bytes:
        """The 8 bytes on the wire: M (1 bit), ST (5 bits), reserved (10 bits), MID (48 bits)."""
        first = (int(self.manual) << 15) | (self.station_type << 10)
        return struct.pack("!H", first) + self.mid

    @classmethod
    def unpack(cls, data: bytes) -> GnAddress:
        """Inverse of :meth:`pack` (``data`` must hold 8 bytes)."""
        (first,) = struct.unpack("!H", data[:2])
        return cls(mid=bytes(data[2:8]), station_type=(first >> 10) & 0x1F, manual=bool(first >> 15))

    def __str__(self) -> str:
        return ":".join(f"{b:02x}" for b in self.mid)


def _deg_e7(value: float, limit: float, what: str) -> int:
    if not math.isfinite(value) or abs(value) > limit:
        raise ValueError(f"{what}: expected -{limit}..{limit} degrees, got {value}")
    return round(value * 1e7)


@dataclass(frozen=True, slots=True, kw_only=True)
class LongPositionVector:
    """The sender's long position vector (24 bytes): address, time, WGS84 position, speed and heading.

    :param lat: / :param lon: degrees (packed in 1/10 micro-degree).   :param timestamp_ms: TST (see
        :func:`gn_timestamp_ms`).   :param speed_mps: signed, 0.01 m/s.   :param heading_deg: 0.1 degree,
        clockwise from North.   :param accurate: the PAI flag (position accuracy within the advertised bounds).
    """

    address: GnAddress
    lat: float
    lon: float
    timestamp_ms: int = 0
    speed_mps: float = 0.0
    heading_deg: float = 0.0
    accurate: bool = True

    def pack(self) -> bytes:
        """The 24 bytes of the vector. :raises ValueError: latitude or longitude out of range."""
        speed = max(-16384, min(16383, round(self.speed_mps * 100)))
        heading = round(self.heading_deg % 360.0 * 10) % 3600
        return self.address.pack() + struct.pack(
            "!Iii HH", self.timestamp_ms % (1 << 32), _deg_e7(self.lat, 90.0, "latitude"),
            _deg_e7(self.lon, 180.0, "longitude"), (int(self.accurate) << 15) | (speed & 0x7FFF), heading)

    @classmethod
    def unpack(cls, data: bytes) -> LongPositionVector:
        """Inverse of :meth:`pack` (``data`` must hold 24 bytes)."""
        tst, lat, lon, pai_speed, heading = struct.unpack("!Iii HH", data[8:24])
        speed = pai_speed & 0x7FFF
        speed = speed - 0x8000 if speed & 0x4000 else speed
        return cls(address=GnAddress.unpack(data[:8]), lat=lat / 1e7, lon=lon / 1e7, timestamp_ms=tst,
                   speed_mps=speed / 100.0, heading_deg=heading / 10.0, accurate=bool(pai_speed >> 15))


@dataclass(frozen=True, slots=True, kw_only=True)
class CircularArea:
    """A geo-broadcast destination: a circle of ``radius_m`` around WGS84 ``lat``/``lon`` (degrees)."""

    lat: float
    lon: float
    radius_m: float

    def __post_init__(self) -> None:
        _deg_e7(self.lat, 90.0, "CircularArea.lat")
        _deg_e7(self.lon, 180.0, "CircularArea.lon")
        if not 0 < self.radius_m <= 65535:
            raise ValueError(f"CircularArea.radius_m: expected 0 < r <= 65535 m, got {self.radius_m}")

    def pack(self) -> bytes:
        """GeoAreaPosLatitude, GeoAreaPosLongitude, distance a, distance b (0), angle (0), reserved: 16 bytes."""
        return struct.pack("!iiHHHH", round(self.lat * 1e7), round(self.lon * 1e7), round(self.radius_m), 0, 0, 0)


def frame_gn(
    payload: bytes,
    *,
    source: LongPositionVector,
    btp_port: int,
    btp_port_info: int = 0,
    area: CircularArea | None = None,
    sequence_number: int = 0,
    traffic_class: int = 2,
    lifetime_s: float = 1.0,
    hop_limit: int | None = None,
) -> bytes:
    """A whole GN packet (basic + common + extended header, BTP-B, payload) without a link-layer header.

    :param area: None sends a single-hop broadcast; a :class:`CircularArea` a geo-broadcast (circle).
    :param sequence_number: the GBC's SN (mod 2**16; SHB has none).   :param traffic_class: the TC byte.
    :param lifetime_s: packet lifetime (basic header LT).   :param hop_limit: RHL/MHL; default 1 for
        SHB, 10 for GBC.
    :raises ValueError: a value does not fit its field (naming it).
    """
    if not 0 <= btp_port <= 0xFFFF or not 0 <= btp_port_info <= 0xFFFF:
        raise ValueError(f"btp_port/btp_port_info: expected 0..65535, got {btp_port}/{btp_port_info}")
    if not 0 <= traffic_class <= 0xFF:
        raise ValueError(f"traffic_class: expected 0..255, got {traffic_class}")
    body = struct.pack("!HH", btp_port, btp_port_info) + bytes(payload)
    if len(body) > 0xFFFF:
        raise ValueError(f"payload: {len(payload)} bytes do not fit the GN payload length field")
    hops = (1 if area is None else 10) if hop_limit is None else hop_limit
    if not 1 <= hops <= 255:
        raise ValueError(f"hop_limit: expected 1..255, got {hops}")
    if area is None:
        ht, hst = HT_TSB, HST_SHB
        extended = source.pack() + b"\x00\x00\x00\x00"  # media-dependent data (DCC), unused
    else:
        ht, hst = HT_GBC, HST_CIRCLE
        extended = struct.pack("!HH", sequence_number % (1 << 16), 0) + source.pack() + area.pack()
    basic = struct.pack("!BBBB", (GN_VERSION << 4) | NH_COMMON, 0, encode_lifetime(lifetime_s), hops)
    common = struct.pack("!BBBBHBB", NH_BTP_B << 4, (ht << 4) | hst, traffic_class, 0, len(body), hops, 0)
    return basic + common + extended + body


def ethernet_frame(packet: bytes, *, source_mac: bytes, destination_mac: bytes = BROADCAST_MAC) -> bytes:
    """``packet`` behind an Ethernet II header with EtherType 0x8947."""
    if len(source_mac) != 6 or len(destination_mac) != 6:
        raise ValueError("ethernet_frame: MAC addresses must be 6 bytes")
    return destination_mac + source_mac + struct.pack("!H", ETHERTYPE_GN) + packet
