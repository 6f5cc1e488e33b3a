"""Measuring the publisher's uplink, and the link state with hysteresis.

Signals, none of which needs anything from the subscribers:

- **send backlog**: the kernel's send queue (``tx_queue`` of ``/proc/net/tcp`` and ``tcp6``: bytes written
  but not yet acknowledged) of every established connection to the publisher's TCP port; the level uses the
  smallest one (the fastest subscriber's): a link every connection shares is slow only when even that one is
  behind, while one subscriber that stopped reading has a full queue of its own (the worst is reported too).
  A slow or throttled link lets it grow long before ZeroMQ's own queue fills. Linux only; on other
  systems and for ``ipc://`` endpoints this signal is absent (logged once).
- **pressure**: sends a full subscriber queue refused since the last look (counted drops and held safety
  messages) while no other connection kept up: the link is congested. (A refusal while another connection
  keeps up is sent past the full queue instead, see rsu/publish/uplink.py, and is no pressure.)
- **probe** (optional): the round trip of a TCP connect to a configured ``HOST:PORT`` (e.g. the gateway).

:class:`LinkState` turns readings into ``good`` / ``slow`` / ``congested``: up at once, down only after the
readings stayed lower for ``recover_s``.
"""

from __future__ import annotations

import logging
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = ["LEVELS", "LinkSample", "LinkState", "SlowSubscriberCheck", "tcp_backlog", "tcp_probe", "endpoint_port"]

log = logging.getLogger(__name__)

LEVELS = ("good", "slow", "congested")
_ESTABLISHED = "01"


def endpoint_port(endpoint: str) -> int | None:
    """The port of a bound ``tcp://HOST:PORT`` endpoint; None for ipc/inproc."""
    if not endpoint.startswith("tcp://"):
        return None
    try:
        return int(endpoint.rsplit(":", 1)[1])
    except (IndexError, ValueError):
        return None


def tcp_backlog(port: int, proc_root: Path = Path("/proc"), inodes: set[int] | None = None) -> list[int] | None:
    """Send-queue bytes of each established TCP connection whose local port is ``port`` (and, with ``inodes``,
    whose socket inode is one of them: the publisher's own accepted connections, see rsu/publish/peers.py).

    None when ``<proc_root>/net/tcp`` cannot be read (not Linux, no procfs). Malformed lines are skipped.
    """
    found = False
    queues: list[int] = []
    for name in ("tcp", "tcp6"):
        try:
            text = (proc_root / "net" / name).read_text(encoding="ascii", errors="replace")
        except OSError:
            continue
        found = True
        for line in text.splitlines()[1:]:
            fields = line.split()
            if len(fields) < 5 or fields[3] != _ESTABLISHED:
                continue
            try:
                local_port = int(fields[1].rsplit(":", 1)[1], 16)
                tx = int(fields[4].split(":", 1)[0], 16)
            except (IndexError, ValueError):
                continue
            if local_port == port and (inodes is None or _inode(fields) in inodes):
                queues.append(tx)
    return queues if found else None


def _inode(fields: list[str]) -> int | None:
    try:
        return int(fields[9])
    except (IndexError, ValueError):
        return None


def tcp_probe(target: str, timeout_s: float) -> float | None:
    """Milliseconds a TCP connect to ``HOST:PORT`` took; None when it failed or timed out."""
    host, port = target.rsplit(":", 1)
    t0 = time.perf_counter()
    try:
        with socket.create_connection((host, int(port)), timeout=timeout_s):
            return (time.perf_counter() - t0) * 1000.0
    except OSError:
        return None


class SlowSubscriberCheck:
    """Called when a full subscriber queue refused a send: True when that queue is one subscriber's problem,
    i.e. at least two connections and the fastest one's send backlog is below ``slow_bytes``; False when every
    connection is behind (the uplink itself) or with no backlog signal (``port`` None). One reading of
    ``/proc/net/tcp`` answers for ``ttl_s``, so a burst of refusals costs one read."""

    def __init__(self, port: int | None, slow_bytes: int, proc_root: Path = Path("/proc"), *,
                 ttl_s: float = 0.05, clock: Callable[[], float] = time.monotonic,
                 inodes: Callable[[], set[int] | None] = lambda: None) -> None:
        self.port, self.slow_bytes, self.proc_root, self.ttl_s, self._clock = port, slow_bytes, proc_root, ttl_s, clock
        self.inodes = inodes
        self._at = float("-inf")
        self._answer = False

    def __call__(self) -> bool:
        now = self._clock()
        if self.port is None:
            return False
        if now - self._at >= self.ttl_s:
            self._at = now
            queues = tcp_backlog(self.port, self.proc_root, self.inodes())
            self._answer = bool(queues) and len(queues) >= 2 and min(queues) < self.slow_bytes
        return self._answer


@dataclass(frozen=True, slots=True)
class LinkSample:
    """One look at the link. ``backlog_bytes`` (the smallest connection's; ``worst_backlog_bytes`` the largest)
    None: no backlog signal; ``probe_ms`` None: no probe or failed."""

    backlog_bytes: int | None = None
    worst_backlog_bytes: int | None = None
    connections: int = 0
    pressure: int = 0
    probe_ms: float | None = None
    probe_failed: bool = False


class LinkState:
    """Link level from samples: 0 good, 1 slow, 2 congested. Up at once; down after ``recover_s``.

    :param cfg: ``publish.uplink`` (:class:`rsu.config.uplink.UplinkConfig`).
    :param on_change: called with ``(old, new, reason)`` level names on each change.
    """

    def __init__(self, cfg: Any, *, on_change: Callable[[str, str, str], None] | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.cfg = cfg
        self.level = 0
        self.on_change = on_change
        self._clock = clock
        self._lower_since: float | None = None
        self._lower_peak = 0
        self.changes = 0
        self.history: list[dict[str, Any]] = []

    def target(self, s: LinkSample) -> tuple[int, str]:
        """The level one sample asks for, and why."""
        c = self.cfg
        if s.pressure > 0:
            return 2, f"{s.pressure} send(s) refused by a full subscriber queue"
        if s.backlog_bytes is not None and s.backlog_bytes >= c.congested_backlog_bytes:
            return 2, f"send backlog {s.backlog_bytes} B >= {c.congested_backlog_bytes} B"
        if s.probe_failed:
            return 2, f"probe {c.probe} failed"
        if s.backlog_bytes is not None and s.backlog_bytes >= c.slow_backlog_bytes:
            return 1, f"send backlog {s.backlog_bytes} B >= {c.slow_backlog_bytes} B"
        if s.probe_ms is not None and s.probe_ms >= c.probe_slow_ms:
            return 1, f"probe {c.probe} {s.probe_ms:.0f} ms >= {c.probe_slow_ms:.0f} ms"
        backlog = "n/a" if s.backlog_bytes is None else f"{s.backlog_bytes} B"
        return 0, f"send backlog {backlog}, no refused sends"

    def update(self, sample: LinkSample) -> int:
        """Account for one sample; returns the level."""
        want, reason = self.target(sample)
        now = self._clock()
        if want > self.level:
            self._lower_since = None
            self._set(want, reason)
        elif want < self.level:
            if self._lower_since is None:
                self._lower_since, self._lower_peak = now, want
            else:
                self._lower_peak = max(self._lower_peak, want)
                if now - self._lower_since >= self.cfg.recover_s:
                    self._lower_since = None
                    self._set(self._lower_peak, f"{reason} for {self.cfg.recover_s:g} s")
        else:
            self._lower_since = None
        return self.level

    def _set(self, level: int, reason: str) -> None:
        old, self.level = self.level, level
        self.changes += 1
        self.history.append({"t": time.time_ns(), "from": LEVELS[old], "to": LEVELS[level], "reason": reason})
        del self.history[:-50]
        log.info("uplink %s -> %s (%s)", LEVELS[old], LEVELS[level], reason)
        if self.on_change is not None:
            self.on_change(LEVELS[old], LEVELS[level], reason)
