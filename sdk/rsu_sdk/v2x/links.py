"""The link layers a :class:`~rsu_sdk.v2x.radio.Radio` sends on: raw Ethernet (AF_PACKET) or UDP.

Each link is non-blocking: ``send`` returns None or an error text (never raises), ``receive`` returns the
frames waiting (possibly none) after at most ``timeout_s``.
"""

from __future__ import annotations

import select
import socket
from typing import Protocol

from rsu_sdk.v2x.gn import ETHERTYPE_GN

__all__ = ["EthernetLink", "Link", "UdpLink"]

_PACKET_OUTGOING = 4


class Link(Protocol):
    """What a radio needs from a link."""

    def send(self, data: bytes) -> str | None:
        """Send one frame/datagram; None when the kernel took it, else why not."""

    def receive(self, timeout_s: float) -> list[bytes]:
        """Frames received within ``timeout_s`` (empty when none, or when the link does not receive)."""

    def close(self) -> None:
        """Release the socket."""


def _send(sock: socket.socket | None, data: bytes, address: object | None) -> str | None:
    if sock is None:
        return "link is closed"
    try:
        if address is None:
            sock.send(data)
        else:
            sock.sendto(data, address)
    except OSError as exc:  # BlockingIOError, ENETDOWN, EMSGSIZE, ConnectionRefusedError, ...
        return f"{type(exc).__name__}: {exc}"
    return None


def _drain(sock: socket.socket | None, timeout_s: float, *, skip_outgoing: bool) -> list[bytes]:
    if sock is None:
        return []
    try:
        ready, _, _ = select.select([sock], [], [], timeout_s)
    except (OSError, ValueError):
        return []
    out: list[bytes] = []
    while ready:
        try:
            data, address = sock.recvfrom(65535)
        except (BlockingIOError, InterruptedError):
            break
        except OSError:
            break
        if skip_outgoing and isinstance(address, tuple) and len(address) > 2 and address[2] == _PACKET_OUTGOING:
            continue
        out.append(data)
    return out


class EthernetLink:
    """Raw Ethernet frames (EtherType 0x8947) on ``interface`` through an AF_PACKET socket.

    :raises OSError: no such interface, or no permission (CAP_NET_RAW) - a start-up error.
    """

    def __init__(self, interface: str) -> None:
        self.interface = interface
        self._sock: socket.socket | None = socket.socket(socket.AF_PACKET, socket.SOCK_RAW,
                                                         socket.htons(ETHERTYPE_GN))
        try:
            self._sock.bind((interface, ETHERTYPE_GN))
            self._sock.setblocking(False)
        except OSError:
            self._sock.close()
            raise

    @property
    def mac(self) -> bytes:
        """The interface's hardware address."""
        return self._sock.getsockname()[4] if self._sock is not None else b""

    def send(self, data: bytes) -> str | None:
        return _send(self._sock, data, None)

    def receive(self, timeout_s: float) -> list[bytes]:
        return _drain(self._sock, timeout_s, skip_outgoing=True)

    def close(self) -> None:
        if self._sock is not None:
            self._sock.close()
            self._sock = None

    def __str__(self) -> str:
        return f"ethernet:{self.interface}"


class UdpLink:
    """Datagrams to a vendor stack at ``host:port``; with ``listen_port`` it also receives on
    ``listen_host:listen_port`` (default loopback).

    :raises OSError: the host cannot be resolved or the port cannot be bound - a start-up error.
    """

    def __init__(self, host: str, port: int, *, listen_port: int | None = None,
                 listen_host: str = "127.0.0.1") -> None:
        family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_DGRAM)[0]
        self.address = address
        self.listening = listen_port is not None
        self._sock: socket.socket | None = socket.socket(family, kind, proto)
        try:
            if listen_port is not None:
                self._sock.bind((listen_host, listen_port))
            self._sock.setblocking(False)
        except OSError:
            self._sock.close()
            raise

    def send(self, data: bytes) -> str | None:
        return _send(self._sock, data, self.address)

    def receive(self, timeout_s: float) -> list[bytes]:
        return _drain(self._sock, timeout_s, skip_outgoing=False) if self.listening else []

    def close(self) -> None:
        if self._sock is not None:
            self._sock.close()
            self._sock = None

    def __str__(self) -> str:
        return f"udp:{self.address[0]}:{self.address[1]}"
