"""Parse incoming GeoNetworking packets; a malformed one is counted by reason and skipped, never raised.

:func:`parse_gn` takes a GN packet (what follows the Ethernet header, or a framed-UDP datagram);
:func:`parse_ethernet` takes a whole Ethernet II frame. Both return a :class:`GnPacket` or None, and count
what they saw in a :class:`GnCounters` when one is given.
"""

from __future__ import annotations

import struct
from collections import Counter
from dataclasses import dataclass, field

from rsu_sdk.v2x.gn import ETHERTYPE_GN, GN_VERSION, HT_GBC, HT_TSB, CircularArea, LongPositionVector

__all__ = ["GnCounters", "GnPacket", "parse_ethernet", "parse_gn"]

_BASIC, _COMMON, _LPV = 4, 8, 24
_SHB_EXT = _LPV + 4
_GBC_EXT = 4 + _LPV + 16
_BEACON, _GUC, _GAC = 1, 2, 3
_NH_BTP_A, _NH_BTP_B = 1, 2


@dataclass(frozen=True, slots=True, kw_only=True)
class GnPacket:
    """One parsed GN packet.

    :param header_type: / :param header_subtype: HT/HST (5/0 SHB, 4/0 GBC circle, ...).
    :param source: the sender's long position vector.   :param btp_port: BTP destination port (None when
        the next header is not BTP).   :param area: the GBC destination circle (GBC circle only).
    :param payload: the facilities-layer bytes after the BTP header.
    """

    version: int
    lifetime: int
    hop_limit: int
    header_type: int
    header_subtype: int
    traffic_class: int
    source: LongPositionVector
    btp_port: int | None
    btp_port_info: int | None
    payload: bytes
    sequence_number: int | None = None
    area: CircularArea | None = None


@dataclass(slots=True)
class GnCounters:
    """What a parser saw: good packets, malformed ones by reason, packets per sender address."""

    packets: int = 0
    malformed: int = 0
    reasons: Counter[str] = field(default_factory=Counter)
    neighbours: Counter[str] = field(default_factory=Counter)

    def as_dict(self) -> dict[str, object]:
        """JSON-ready counters."""
        return {"packets": self.packets, "malformed": self.malformed, "reasons": dict(self.reasons),
                "neighbours": dict(self.neighbours)}


class _Malformed(Exception):
    pass


def _need(data: bytes, size: int, what: str) -> None:
    if len(data) < size:
        raise _Malformed(f"truncated {what}")


def _parse(data: bytes, padded: bool) -> GnPacket:
    _need(data, _BASIC, "basic header")
    version, nh = data[0] >> 4, data[0] & 0x0F
    if version not in (0, GN_VERSION):
        raise _Malformed("unsupported version")
    if nh == 2:
        raise _Malformed("secured packet (not supported)")
    if nh != 1:
        raise _Malformed("basic header next header")
    lifetime, rhl = data[2], data[3]
    _need(data, _BASIC + _COMMON, "common header")
    ch_nh, ht, hst, tc, flags, plen, mhl, _ = (data[4] >> 4, data[5] >> 4, data[5] & 0x0F,
                                               *struct.unpack("!BBHBB", data[6:12]))
    del flags
    if rhl > mhl:
        raise _Malformed("remaining hop limit above maximum")
    offset = _BASIC + _COMMON
    sequence_number = area = None
    if ht == HT_TSB and hst == 0:
        _need(data, offset + _SHB_EXT, "SHB extended header")
        source = LongPositionVector.unpack(data[offset:offset + _LPV])
        offset += _SHB_EXT
    elif ht == HT_GBC and hst == 0:
        _need(data, offset + _GBC_EXT, "GBC extended header")
        (sequence_number,) = struct.unpack("!H", data[offset:offset + 2])
        source = LongPositionVector.unpack(data[offset + 4:offset + 4 + _LPV])
        lat, lon, a, _b, _angle, _ = struct.unpack("!iiHHHH", data[offset + 4 + _LPV:offset + _GBC_EXT])
        if a == 0 or abs(lat) > 900_000_000 or abs(lon) > 1_800_000_000:
            raise _Malformed("GBC area out of range")
        area = CircularArea(lat=lat / 1e7, lon=lon / 1e7, radius_m=a)
        offset += _GBC_EXT
    elif ht in (_BEACON, _GUC, _GAC, HT_GBC, HT_TSB):
        raise _Malformed(f"header type {ht}/{hst} not handled")
    else:
        raise _Malformed("unknown header type")
    if abs(source.lat) > 90.0 or abs(source.lon) > 180.0:
        raise _Malformed("position vector out of range")
    body = data[offset:]
    if padded and plen < len(body):
        body = body[:plen]  # Ethernet pads frames to 60 bytes
    if plen != len(body):
        raise _Malformed("payload length mismatch")
    port = port_info = None
    payload = bytes(body)
    if ch_nh in (_NH_BTP_A, _NH_BTP_B):
        _need(body, 4, "BTP header")
        port, port_info = struct.unpack("!HH", body[:4])
        payload = bytes(body[4:])
    return GnPacket(version=version, lifetime=lifetime, hop_limit=rhl, header_type=ht, header_subtype=hst,
                    traffic_class=tc, source=source, btp_port=port, btp_port_info=port_info, payload=payload,
                    sequence_number=sequence_number, area=area)


def parse_gn(data: bytes, counters: GnCounters | None = None, *, padded: bool = False) -> GnPacket | None:
    """Parse one GN packet; None (counted under its reason) when it is malformed. Never raises.

    :param padded: bytes beyond the common header's payload length are link-layer padding, not an error.
    """
    try:
        packet = _parse(bytes(data), padded)
    except _Malformed as exc:
        reason = str(exc)
    except Exception as exc:  # noqa: BLE001 - a bad packet must never reach the caller's thread
        reason = f"unexpected {type(exc).__name__}"
    else:
        if counters is not None:
            counters.packets += 1
            counters.neighbours[str(packet.source.address)] += 1
        return packet
    if counters is not None:
        counters.malformed += 1
        counters.reasons[reason] += 1
    return None


def parse_ethernet(frame: bytes, counters: GnCounters | None = None) -> GnPacket | None:
    """Parse an Ethernet II frame carrying GN (EtherType 0x8947); other frames count as malformed."""
    if len(frame) < 14 or struct.unpack("!H", frame[12:14])[0] != ETHERTYPE_GN:
        if counters is not None:
            counters.malformed += 1
            counters.reasons["not a GeoNetworking frame"] += 1
        return None
    return parse_gn(frame[14:], counters, padded=len(frame) <= 60)
