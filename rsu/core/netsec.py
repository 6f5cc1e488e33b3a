"""The network security rule every server of the box follows (the bus, ``rsu serve-inference``, ``rsu federate
serve``, the web server): loopback is open to local processes; anything reachable beyond loopback needs keys
(CURVE), a token or client certificates (TLS), and start-up is refused otherwise. Pure functions, standard library only.
"""

from __future__ import annotations

import ipaddress
from typing import Any

__all__ = ["is_loopback", "is_loopback_host", "insecure_bind_problem", "insecure_host_problem"]


def is_loopback_host(host: str) -> bool:
    """True for ``localhost`` and loopback addresses (127.0.0.0/8, ``::1``, ``[::1]``); False for ``*``,
    ``0.0.0.0``, ``::``, any other address, interface name or host name (reachable from outside)."""
    bare = host.strip()
    if bare.startswith("[") and bare.endswith("]"):
        bare = bare[1:-1]
    if bare.lower() in ("localhost", "localhost."):
        return True
    try:
        return ipaddress.ip_address(bare).is_loopback
    except ValueError:
        return False


def is_loopback(endpoint: str) -> bool:
    """True for ``ipc://``/``inproc://`` endpoints and for ``tcp://HOST:PORT`` on a loopback host."""
    if endpoint.startswith(("ipc://", "inproc://")):
        return True
    if not endpoint.startswith("tcp://"):
        return False
    return is_loopback_host(endpoint[len("tcp://"):].rsplit(":", 1)[0])


def insecure_bind_problem(bind: str, curve: Any, curve_key: str) -> str | None:
    """Why ZeroMQ endpoint ``bind`` must not be served without CURVE keys (``curve_key``: the config key where
    to set them), or None when it is loopback or ``curve`` is set."""
    if curve is not None or is_loopback(bind):
        return None
    return (f"bind {bind} is reachable beyond loopback and has no CURVE keys: set {curve_key} (server_secret_key, "
            "authorized_keys; `rsu keys generate DIR` makes them) or bind to 127.0.0.1")


def insecure_host_problem(host: str, has_auth: bool, auth_key: str) -> str | None:
    """Why an HTTP server on ``host`` must not start without authentication (``auth_key``: where to set it), or
    None when ``host`` is loopback or ``has_auth``."""
    if has_auth or is_loopback_host(host):
        return None
    return (f"host {host} is reachable beyond loopback and has no authentication: set {auth_key} "
            "(`rsu keys token FILE` makes a token, `rsu keys tls DIR` a CA and certificates) or listen on 127.0.0.1")
