"""Forward encoded CPMs to a V2X radio stack over UDP: one datagram per message, never blocking.

PC5 (C-V2X) and DSRC/ITS-G5 stacks commonly take facilities-layer messages as UDP datagrams on a local
port and add the BTP/GeoNetworking (or WSMP) headers themselves; the datagram is the UPER bytes as-is.
A message that cannot be sent (buffer full, unreachable endpoint, ...) is counted, never raised.
"""

from __future__ import annotations

import logging
import socket
from dataclasses import dataclass

__all__ = ["RadioStats", "UdpForwarder"]

log = logging.getLogger(__name__)


@dataclass(slots=True)
class RadioStats:
    """Counters of one forwarder."""

    sent: int = 0
    bytes: int = 0
    errors: int = 0
    last_error: str | None = None


class UdpForwarder:
    """A non-blocking UDP sender to ``host:port`` (resolved once, at construction)."""

    def __init__(self, host: str, port: int) -> None:
        """:raises OSError: ``host`` cannot be resolved or no socket can be opened (a start-up error)."""
        family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_DGRAM)[0]
        self.address = address
        self.stats = RadioStats()
        self._sock: socket.socket | None = socket.socket(family, kind, proto)
        self._sock.setblocking(False)

    def send(self, message: bytes) -> bool:
        """Send one datagram; True when the kernel took it. Errors are counted (first one logged)."""
        sock = self._sock
        if sock is None:
            self._fail("forwarder is closed")
            return False
        try:
            sock.sendto(message, self.address)
        except OSError as exc:  # BlockingIOError, ConnectionRefusedError, EMSGSIZE, ...
            self._fail(f"{type(exc).__name__}: {exc}")
            return False
        self.stats.sent += 1
        self.stats.bytes += len(message)
        return True

    def _fail(self, reason: str) -> None:
        if self.stats.errors == 0:
            log.warning("V2X radio %s: send failed: %s (further failures are only counted)", self.address, reason)
        self.stats.errors += 1
        self.stats.last_error = reason

    def close(self) -> None:
        """Close the socket; later sends count as errors."""
        if self._sock is not None:
            self._sock.close()
            self._sock = None
