"""A V2X radio built from a settings mapping: frames facilities messages and sends them on its link.

Modes (``settings["mode"]``):

- ``ethernet``: GN + BTP-B in an Ethernet II frame (EtherType 0x8947) on ``interface`` (an ITS-G5 card in
  OCB mode, or any Linux interface); needs CAP_NET_RAW. Incoming GN frames on that interface are parsed and
  counted (neighbours by GN address; malformed ones by reason).
- ``udp-framed``: the GN packet (no Ethernet header) as one UDP datagram to ``host:port`` (a vendor stack
  that takes GN packets); with ``listen_port``, GN packets received there are parsed and counted too.
- ``udp-bare``: the facilities payload alone as one UDP datagram (the stack adds BTP/GN itself).

``pcap`` (a file name) writes every frame sent, in any mode, as Ethernet + GN, for Wireshark.
Sending never blocks and never raises: failures are counted (the first one logged).
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter
from collections.abc import Callable, Mapping
from typing import Any, Literal

from rsu_sdk.v2x.gn import (
    BTP_PORTS,
    TRAFFIC_CLASS,
    CircularArea,
    GnAddress,
    LongPositionVector,
    ethernet_frame,
    frame_gn,
    gn_timestamp_ms,
)
from rsu_sdk.v2x.links import EthernetLink, Link, UdpLink
from rsu_sdk.v2x.parse import GnCounters, GnPacket, parse_ethernet, parse_gn
from rsu_sdk.v2x.pcap import PcapWriter

__all__ = ["MODES", "RADIO_SCHEMA", "Kind", "Radio"]

log = logging.getLogger(__name__)

Kind = Literal["cpm", "denm"]
MODES = ("ethernet", "udp-framed", "udp-bare")
LIFETIME_S: dict[str, float] = {"cpm": 1.0, "denm": 60.0}

RADIO_SCHEMA: dict[str, Any] = {
    "type": "object", "additionalProperties": False,
    "description": "one V2X radio: how facilities messages leave the box",
    "properties": {
        "mode": {"enum": list(MODES), "default": "udp-bare"},
        "interface": {"type": "string", "minLength": 1, "description": "ethernet: the network interface"},
        "host": {"type": "string", "minLength": 1, "description": "udp-*: the vendor stack's address"},
        "port": {"type": "integer", "minimum": 1, "maximum": 65535, "description": "udp-*: its port"},
        "listen_port": {"type": "integer", "minimum": 1, "maximum": 65535,
                        "description": "udp-framed: receive GN packets on this local port"},
        "listen_host": {"type": "string", "minLength": 1, "default": "127.0.0.1"},
        "receive": {"type": "boolean", "default": True, "description": "parse and count incoming GN frames"},
        "pcap": {"type": "string", "minLength": 1, "description": "write every frame sent to this pcap file"},
        "denm_radius_m": {"type": "number", "exclusiveMinimum": 0, "maximum": 65535, "default": 1000,
                          "description": "DENM geo-broadcast circle around the box when none is given"},
        "enabled": {"type": "boolean", "default": True},
    },
}
"""JSON Schema of one radio's settings (plugins embed it in their own schema)."""


def _check(settings: Mapping[str, Any]) -> list[str]:
    mode = settings.get("mode", "udp-bare")
    if mode not in MODES:
        return [f"mode: expected one of {', '.join(MODES)}, got {mode!r}"]
    if mode == "ethernet":
        return [] if settings.get("interface") else ["interface: required for mode ethernet"]
    missing = [f"{key}: required for mode {mode}" for key in ("host", "port") if key not in settings]
    if mode == "udp-bare" and "listen_port" in settings:
        missing.append("listen_port: only for mode udp-framed or ethernet")
    return missing


class Radio:
    """One radio of the box.

    :param settings: see :data:`RADIO_SCHEMA`.   :param station_id: the ITS StationId (GN address MID
        ``02:00`` + id).   :param lat: / :param lon: the box's WGS84 position (its long position vector).
    :param clock: Unix ns (injectable for tests).   :param on_packet: called (on the receiver thread)
        with each well-formed incoming GN packet; an exception there is counted, never propagated.
    :raises ValueError: bad settings (naming the key).   :raises OSError: the link cannot be opened.
    """

    def __init__(self, settings: Mapping[str, Any], *, station_id: int, lat: float, lon: float,
                 clock: Callable[[], int] = time.time_ns,
                 on_packet: Callable[[GnPacket], None] | None = None) -> None:
        problems = _check(settings)
        if problems:
            raise ValueError("radio: " + "; ".join(problems))
        self.mode: str = settings.get("mode", "udp-bare")
        self.address = GnAddress.from_station_id(station_id)
        LongPositionVector(address=self.address, lat=lat, lon=lon).pack()  # validates the position now
        self.lat, self.lon = lat, lon
        self.denm_radius_m = float(settings.get("denm_radius_m", 1000))
        self._clock = clock
        self._on_packet = on_packet
        self._lock = threading.Lock()
        self._sequence = 0
        self.sent: Counter[str] = Counter()
        self.bytes = 0
        self.errors = 0
        self.last_error: str | None = None
        self.received = GnCounters()
        self.callback_errors = 0
        self.link: Link
        if self.mode == "ethernet":
            self.link = EthernetLink(str(settings["interface"]))
        else:
            listen = settings.get("listen_port") if self.mode == "udp-framed" else None
            self.link = UdpLink(str(settings["host"]), int(settings["port"]),
                                listen_port=int(listen) if listen else None,
                                listen_host=str(settings.get("listen_host", "127.0.0.1")))
        try:
            self.pcap = PcapWriter(settings["pcap"]) if settings.get("pcap") else None
        except OSError:
            self.link.close()
            raise
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        wants_rx = bool(settings.get("receive", True)) and (self.mode == "ethernet" or listen_is_set(settings))
        if wants_rx:
            self._thread = threading.Thread(target=self._receive_loop, name=f"v2x-rx-{self.link}", daemon=True)
            self._thread.start()

    def frame(self, payload: bytes, *, kind: Kind, destination_area: CircularArea | None = None) -> bytes:
        """The GN packet :meth:`send` would send for ``payload`` (takes a GBC sequence number for DENMs)."""
        if kind not in BTP_PORTS or kind == "cam":
            raise ValueError(f"kind: expected 'cpm' or 'denm', got {kind!r}")
        source = LongPositionVector(address=self.address, lat=self.lat, lon=self.lon,
                                    timestamp_ms=gn_timestamp_ms(self._clock()))
        area = destination_area
        if kind == "denm" and area is None:
            area = CircularArea(lat=self.lat, lon=self.lon, radius_m=self.denm_radius_m)
        sequence = 0
        if area is not None:  # every geo-broadcast takes the next sequence number
            with self._lock:
                sequence = self._sequence
                self._sequence = (self._sequence + 1) % 65536
        return frame_gn(payload, source=source, btp_port=BTP_PORTS[kind], area=area, sequence_number=sequence,
                        traffic_class=TRAFFIC_CLASS[kind], lifetime_s=LIFETIME_S[kind])

    def send(self, payload: bytes, *, kind: Kind, destination_area: CircularArea | None = None) -> None:
        """Frame ``payload`` as the mode asks and send it: a CPM as single-hop broadcast (BTP port 2009), a
        DENM as geo-broadcast to ``destination_area`` (default: ``denm_radius_m`` around the box; port 2002).
        A CPM given a ``destination_area`` goes as geo-broadcast too.

        Never blocks; a failure (link down, buffer full, payload too large) is counted, not raised.

        :raises ValueError: ``kind`` is not ``cpm`` or ``denm`` (a caller's bug).
        """
        try:
            packet = self.frame(payload, kind=kind, destination_area=destination_area)
        except ValueError as exc:
            if "kind:" in str(exc):
                raise
            self._fail(f"cannot frame: {exc}")
            return
        frame = ethernet_frame(packet, source_mac=self.address.mid)
        wire = {"ethernet": frame, "udp-framed": packet}.get(self.mode, bytes(payload))
        error = self.link.send(wire)
        if error is not None:
            self._fail(error)
            return
        with self._lock:
            self.sent[kind] += 1
            self.bytes += len(wire)
        if self.pcap is not None:
            self.pcap.write(frame, t_ns=self._clock())

    def _fail(self, reason: str) -> None:
        with self._lock:
            first = self.errors == 0
            self.errors += 1
            self.last_error = reason
        if first:
            log.warning("V2X radio %s: send failed: %s (further failures are only counted)", self.link, reason)

    def _receive_loop(self) -> None:
        parse = parse_ethernet if self.mode == "ethernet" else parse_gn
        while not self._stop.is_set():
            for data in self.link.receive(0.2):
                with self._lock:
                    packet = parse(data, self.received)
                if packet is None or self._on_packet is None:
                    continue
                try:
                    self._on_packet(packet)
                except Exception:  # noqa: BLE001 - a callback must not end the receiver
                    self.callback_errors += 1

    def stats(self) -> dict[str, Any]:
        """Counters: ``mode``, ``link``, ``sent`` per kind, ``bytes``, ``errors``, ``last_error``,
        ``received`` (``packets``, ``malformed``, ``reasons``, ``neighbours``), ``pcap_frames``."""
        with self._lock:
            return {"mode": self.mode, "link": str(self.link), "address": str(self.address),
                    "sent": dict(self.sent), "bytes": self.bytes, "errors": self.errors,
                    "last_error": self.last_error, "received": self.received.as_dict(),
                    "callback_errors": self.callback_errors,
                    "pcap_frames": self.pcap.frames if self.pcap else None}

    def close(self) -> None:
        """Stop the receiver, close the link and the pcap file (idempotent); later sends count as errors."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5.0)
            self._thread = None
        self.link.close()
        if self.pcap is not None:
            self.pcap.close()


def listen_is_set(settings: Mapping[str, Any]) -> bool:
    """Whether a udp-framed radio receives (``listen_port`` set)."""
    return settings.get("mode") == "udp-framed" and bool(settings.get("listen_port"))
