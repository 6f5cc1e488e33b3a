"""Which TCP connections are the publisher's subscribers: a ZeroMQ socket monitor tracks accepted sockets.

The kernel's per-connection table (``/proc/net/tcp``) is matched by local port, and a port can also be the
local port of an unrelated outgoing connection (``SO_REUSEADDR`` lets a listener take it): counting that one
as a subscriber would make a lone stalled subscriber look like "another keeps up". The monitor reports each
accepted and closed socket's file descriptor; their socket inodes pick the publisher's own rows.
"""

from __future__ import annotations

import logging
import os
import threading

import zmq
from zmq.utils.monitor import parse_monitor_message

__all__ = ["PeerTracker"]

log = logging.getLogger(__name__)

_EVENTS = zmq.EVENT_ACCEPTED | zmq.EVENT_DISCONNECTED | zmq.EVENT_CLOSED


class PeerTracker:
    """The file descriptors of the connections ``sock`` accepted. Create it from the thread that owns ``sock``
    (or under its lock); :meth:`inodes` may be called from any thread (it has its own lock)."""

    def __init__(self, sock: zmq.Socket) -> None:
        self._lock = threading.Lock()
        self._fds: set[int] = set()
        self._sock = sock
        self._monitor: zmq.Socket | None = sock.get_monitor_socket(_EVENTS)

    def _drain_locked(self) -> None:
        while self._monitor is not None:
            try:
                event = parse_monitor_message(self._monitor.recv_multipart(zmq.NOBLOCK))
            except zmq.Again:
                return
            except (zmq.ZMQError, ValueError, KeyError) as exc:  # a bad event is skipped, never raised
                log.debug("publisher monitor: %s", exc)
                continue
            fd = event.get("value")
            if event.get("event") == zmq.EVENT_ACCEPTED:
                self._fds.add(fd)
            else:
                self._fds.discard(fd)

    def inodes(self) -> set[int] | None:
        """Socket inodes of the accepted connections still open; None when they cannot be told (no /proc)."""
        with self._lock:
            self._drain_locked()
            out: set[int] = set()
            for fd in self._fds:
                try:
                    link = os.readlink(f"/proc/self/fd/{fd}")
                except OSError:
                    return None if not os.path.isdir("/proc/self/fd") else out
                if link.startswith("socket:[") and link.endswith("]"):
                    out.add(int(link[8:-1]))
            return out

    def close(self) -> None:
        """Stop monitoring (before the socket closes)."""
        with self._lock:
            if self._monitor is None:
                return
            try:
                self._sock.disable_monitor()
            except zmq.ZMQError:
                pass
            self._monitor.close(0)
            self._monitor = None
