"""Checks of network addresses in a config: host names, IP addresses, ports and ZeroMQ endpoints.

Each ``*_problem`` function returns None for a good value, else the reason as one short sentence.
"""

from __future__ import annotations

import ipaddress
import re
from typing import Annotated, NamedTuple

from pydantic import AfterValidator

__all__ = ["Endpoint", "Host", "ZmqEndpoint", "host_problem", "parse_tcp_endpoint", "port_problem", "valid_host", "valid_zmq_endpoint",
           "zmq_endpoint_problem"]

_LABEL = re.compile(r"^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?$")


class Endpoint(NamedTuple):
    """The host and port of a ``tcp://HOST:PORT`` endpoint; ``port`` None for ``*`` (any free port)."""

    host: str
    port: int | None


def host_problem(value: str, *, wildcard: bool = False) -> str | None:
    """Why ``value`` is not an IP address or a host name (RFC 1123 labels); ``*`` only when ``wildcard``."""
    if wildcard and value == "*":
        return None
    bare = value[1:-1] if value.startswith("[") and value.endswith("]") else value
    try:
        ipaddress.ip_address(bare)
        return None
    except ValueError:
        pass
    name = value[:-1] if value.endswith(".") else value
    if not name or len(name) > 253 or not all(_LABEL.match(label) for label in name.split(".")):
        return f"{value!r} is not a valid host: expected an IP address or a host name (letters, digits, '-', '.')"
    if name.replace(".", "").isdigit():
        return f"{value!r} is not a valid IPv4 address"
    return None


def port_problem(port: int, *, allow_zero: bool = False) -> str | None:
    """Why ``port`` is not a TCP/UDP port number."""
    low = 0 if allow_zero else 1
    if not low <= port <= 65535:
        return f"port {port} is out of range ({low}-65535)"
    return None


def parse_tcp_endpoint(value: str) -> Endpoint:
    """Split ``tcp://HOST:PORT`` (``[v6]`` hosts, ``*`` host or port); raise ValueError naming the problem."""
    rest = value[len("tcp://"):]
    host, sep, port_text = rest.rpartition(":")
    if not sep or not host:
        raise ValueError(f"expected tcp://HOST:PORT, got {value!r}")
    problem = host_problem(host, wildcard=True)
    if problem:
        raise ValueError(problem)
    if port_text == "*":
        return Endpoint(host, None)
    if not port_text.isdigit():
        raise ValueError(f"port {port_text!r} of {value!r} is not a number (or * for any free port)")
    problem = port_problem(int(port_text), allow_zero=True)
    if problem:
        raise ValueError(problem)
    return Endpoint(host, int(port_text) or None)


def zmq_endpoint_problem(value: str) -> str | None:
    """Why ``value`` is not a ZeroMQ endpoint this box can use (``tcp://HOST:PORT``, ``ipc://PATH``,
    ``inproc://NAME``)."""
    scheme, sep, rest = value.partition("://")
    if not sep or scheme not in ("tcp", "ipc", "inproc"):
        return f"expected a ZeroMQ endpoint like tcp://HOST:PORT (or ipc://, inproc://), got {value!r}"
    if not rest:
        return f"{value!r} names no address"
    if scheme == "tcp":
        try:
            parse_tcp_endpoint(value)
        except ValueError as exc:
            return str(exc)
    return None


def valid_host(value: str) -> str:
    """Pydantic validator body: ``value`` if it is a host, else ValueError."""
    problem = host_problem(value)
    if problem:
        raise ValueError(problem)
    return value


def valid_zmq_endpoint(value: str) -> str:
    """Pydantic validator body: ``value`` if it is a ZeroMQ endpoint, else ValueError."""
    problem = zmq_endpoint_problem(value)
    if problem:
        raise ValueError(problem)
    return value


Host = Annotated[str, AfterValidator(valid_host)]
"""A config field holding an IP address or a host name."""

ZmqEndpoint = Annotated[str, AfterValidator(valid_zmq_endpoint)]
"""A config field holding a ZeroMQ endpoint (tcp ports 1-65535, or * for any free port)."""
