"""rsu_sdk.v2x: put facilities messages (CPM, DENM) on the air as GeoNetworking + BTP-B.

Pure Python, standard library only. What a V2X-sending plugin uses:

- :class:`Radio`: built from a settings mapping (:data:`RADIO_SCHEMA`: ``mode`` ``ethernet`` |
  ``udp-framed`` | ``udp-bare``, ``interface``, ``host``/``port``, ``pcap``, ...);
  ``send(payload, kind="cpm"|"denm", destination_area=None)``, ``stats()``, ``close()``.
- :class:`CircularArea`: a DENM's geo-broadcast destination.
- :func:`frame_gn` / :func:`parse_gn` / :func:`parse_ethernet`: build and parse GN packets (EN 302 636-4-1).
- :class:`PcapWriter` / :func:`read_pcap`: Ethernet pcap files Wireshark opens.

Example::

    from rsu_sdk.v2x import CircularArea, Radio

    radio = Radio({"mode": "udp-framed", "host": "127.0.0.1", "port": 7943}, station_id=4711,
                  lat=48.1, lon=11.5)
    radio.send(denm_bytes, kind="denm", destination_area=CircularArea(lat=48.1, lon=11.5, radius_m=500))
    radio.close()
"""

from __future__ import annotations

from rsu_sdk.v2x.gn import (
    BTP_PORTS,
    ETHERTYPE_GN,
    CircularArea,
    GnAddress,
    LongPositionVector,
    ethernet_frame,
    frame_gn,
    gn_timestamp_ms,
)
from rsu_sdk.v2x.parse import GnCounters, GnPacket, parse_ethernet, parse_gn
from rsu_sdk.v2x.pcap import PcapWriter, read_pcap
from rsu_sdk.v2x.radio import MODES, RADIO_SCHEMA, Kind, Radio

__all__ = [
    "BTP_PORTS",
    "ETHERTYPE_GN",
    "MODES",
    "RADIO_SCHEMA",
    "CircularArea",
    "GnAddress",
    "GnCounters",
    "GnPacket",
    "Kind",
    "LongPositionVector",
    "PcapWriter",
    "Radio",
    "ethernet_frame",
    "frame_gn",
    "gn_timestamp_ms",
    "parse_ethernet",
    "parse_gn",
    "read_pcap",
]
