"""``rsu v2x capture FILE.pcap``: write the GeoNetworking frames a radio sends (and receives) as a pcap.

Two sources: an interface (``--interface``, an ``ethernet`` radio's link: every frame with EtherType 0x8947,
in both directions; needs CAP_NET_RAW), or a UDP port (``--listen HOST:PORT``, standing in for the vendor
stack of a ``udp-framed`` radio: each datagram is a GN packet, written behind an Ethernet header). The radio
setting ``pcap: FILE`` writes exactly what one radio sends instead. On exit one JSON line goes to stdout:
``frames`` written, and the GN parser's counts (``packets``, ``malformed``, ``reasons``, ``neighbours``).
"""

from __future__ import annotations

import json
import select
import socket
import struct
import time
from pathlib import Path

import click

from rsu_sdk.v2x import ETHERTYPE_GN, GnCounters, PcapWriter, ethernet_frame, parse_ethernet, parse_gn

ETH_P_ALL = 0x0003


def _open(interface: str | None, listen: str | None) -> socket.socket:
    if interface:
        sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
        sock.bind((interface, ETH_P_ALL))
        return sock
    assert listen is not None
    host, _, port = listen.rpartition(":")
    if not host or not port.isdigit():
        raise click.BadParameter(f"expected HOST:PORT, got {listen!r}", param_hint="--listen")
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind((host.strip("[]"), int(port)))
    return sock


def capture(out: Path, *, interface: str | None, listen: str | None, count: int | None,
            timeout_s: float) -> dict[str, object]:
    """Capture until ``count`` GN frames were written or ``timeout_s`` passed; return the counts."""
    counters = GnCounters()
    try:
        sock = _open(interface, listen)
    except OSError as exc:
        where = f"interface {interface}" if interface else f"UDP {listen}"
        raise click.ClickException(f"cannot capture on {where}: {exc}") from None
    deadline = time.monotonic() + timeout_s
    with sock, PcapWriter(out) as pcap:
        while count is None or pcap.frames < count:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([sock], [], [], min(left, 0.5))[0]:
                if left <= 0:
                    break
                continue
            data = sock.recv(65535)
            if interface:
                if len(data) < 14 or struct.unpack("!H", data[12:14])[0] != ETHERTYPE_GN:
                    continue  # not GeoNetworking: not ours to write
                parse_ethernet(data, counters)
                pcap.write(data)
            else:
                packet = parse_gn(data, counters)
                source = packet.source.address.mid if packet is not None else b"\x00" * 6
                pcap.write(ethernet_frame(data, source_mac=source))
        frames = pcap.frames
    return {"file": str(out), "frames": frames, **counters.as_dict()}


@click.group("v2x")
def command() -> None:
    """V2X radio tools (GeoNetworking / BTP)."""


@command.command("capture")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--interface", "-i", help="Capture GN frames (EtherType 0x8947) on this interface.")
@click.option("--listen", help="Receive framed-UDP GN packets on HOST:PORT instead.")
@click.option("--count", "-c", type=click.IntRange(min=1), help="Stop after this many frames.")
@click.option("--timeout", "timeout_s", type=click.FloatRange(min=0.1), default=60.0, show_default=True,
              help="Stop after this many seconds.")
def capture_cmd(file: Path, interface: str | None, listen: str | None, count: int | None, timeout_s: float) -> None:
    """Write what the radio sends as FILE.pcap (open it in Wireshark); print the counts as JSON."""
    if bool(interface) == bool(listen):
        raise click.UsageError("give exactly one of --interface or --listen")
    result = capture(file, interface=interface, listen=listen, count=count, timeout_s=timeout_s)
    click.echo(json.dumps(result, sort_keys=True))
