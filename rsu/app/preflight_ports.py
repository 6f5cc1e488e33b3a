"""The ports a config binds: two entries on one port, and ports another process already holds.

Only what the process that reads the config binds is listed: ``rsu run`` binds the publisher, the web server,
UDP radars and air stations with ``zmq.bind``; a config that sets ``tiered.server`` or ``federated.aggregator``
is also read by ``rsu serve-inference`` / ``rsu federate serve``, which bind those.
"""

from __future__ import annotations

import socket
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from rsu.config.hosts import parse_tcp_endpoint

if TYPE_CHECKING:
    from rsu.config.root import RsuConfig

__all__ = ["Bind", "bind_conflicts", "planned_binds", "ports_in_use"]

_ANY = ("*", "0.0.0.0", "::", "[::]", "")


@dataclass(frozen=True, slots=True)
class Bind:
    """One socket the config asks for: ``key`` is the dotted path reported for it."""

    key: str
    proto: Literal["tcp", "udp"]
    host: str
    port: int | None  # None: any free port (nothing to check)
    zmq_endpoint: str | None = None  # bound through ZeroMQ (publisher, servers), else a plain socket


def _zmq_bind(key: str, endpoint: str) -> Bind | None:
    if not endpoint.startswith("tcp://"):
        return None  # ipc:// binds replace a stale socket file, inproc:// is per process: nothing to check
    try:
        ep = parse_tcp_endpoint(endpoint)
    except ValueError:
        return None  # already reported by validation
    return Bind(key, "tcp", ep.host, ep.port, endpoint)


def planned_binds(cfg: RsuConfig) -> list[Bind]:
    """Every socket the config binds, in config order."""
    binds: list[Bind | None] = [_zmq_bind("publish.zmq.endpoint", cfg.publish.zmq.endpoint)]
    if cfg.web.enabled:
        binds.append(Bind("web.port", "tcp", cfg.web.host, cfg.web.port or None))
    for i, src in enumerate(cfg.sources):
        if not src.enabled:
            continue
        if src.type == "radar_udp":
            binds.append(Bind(f"sources[{i}].port", "udp", src.host, src.port))
        elif src.type == "air_station" and src.zmq is not None and src.zmq.bind:
            binds.append(_zmq_bind(f"sources[{i}].zmq.endpoint", src.zmq.endpoint))
    if cfg.tiered is not None and "server" in cfg.tiered.model_fields_set:
        binds.append(_zmq_bind("tiered.server.bind", cfg.tiered.server.bind))
    if cfg.federated is not None and "aggregator" in cfg.federated.model_fields_set:
        binds.append(_zmq_bind("federated.aggregator.bind", cfg.federated.aggregator.bind))
    return [b for b in binds if b is not None]


def _overlap(a: Bind, b: Bind) -> bool:
    if a.proto != b.proto or a.port is None or a.port != b.port:
        return False
    return a.host == b.host or a.host in _ANY or b.host in _ANY


def bind_conflicts(binds: list[Bind]) -> list[str]:
    """One line per entry whose port an earlier entry of the same config binds too."""
    problems = []
    for j, later in enumerate(binds):
        for earlier in binds[:j]:
            if _overlap(earlier, later):
                problems.append(f"{later.key}: {later.proto} port {later.port} is also bound by {earlier.key}; "
                                "give each its own port")
                break
    return problems


def _try_zmq(endpoint: str) -> str | None:
    import zmq

    ctx = zmq.Context()
    try:
        sock = ctx.socket(zmq.PUB)
        try:
            sock.setsockopt(zmq.LINGER, 0)
            sock.bind(endpoint)
        except zmq.ZMQError as exc:
            return f"cannot bind {endpoint}: {exc}"
        finally:
            sock.close(0)
    finally:
        ctx.term()
    return None


def _try_socket(bind: Bind) -> str | None:
    family = socket.AF_INET6 if ":" in bind.host else socket.AF_INET
    kind = socket.SOCK_STREAM if bind.proto == "tcp" else socket.SOCK_DGRAM
    host = bind.host.strip("[]")
    try:
        with socket.socket(family, kind) as sock:
            if bind.proto == "tcp":
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the web server binds
            sock.bind((host, bind.port or 0))
    except socket.gaierror as exc:
        return f"cannot resolve host {bind.host!r}: {exc.strerror or exc}"
    except OSError as exc:
        return f"cannot listen on {bind.host}:{bind.port} ({bind.proto}): {exc.strerror or exc}"
    return None


def ports_in_use(binds: list[Bind]) -> list[str]:
    """Bind each port for a moment: one line per port this process cannot have (in use, no such address).

    Run it before the box binds anything: a port the box itself holds already reads as in use."""
    problems = []
    conflicted = {line.split(":", 1)[0] for line in bind_conflicts(binds)}
    for bind in binds:
        if bind.port is None or bind.key in conflicted:
            continue
        problem = _try_zmq(bind.zmq_endpoint) if bind.zmq_endpoint else _try_socket(bind)
        if problem:
            problems.append(f"{bind.key}: {problem}")
    return problems
