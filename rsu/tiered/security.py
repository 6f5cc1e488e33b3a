"""CURVE for the offload link, with the bus's keys (``rsu keys generate DIR``) and the bus's rule: a server that
binds beyond loopback without keys refuses to start.

Server: its own ZeroMQ context with a ZAP handler admitting only the public keys in ``authorized_keys/``;
a client whose key is not there never completes the handshake, so none of its requests reaches the server.
Client (the box): the server's public key file and the box's own secret key file.
"""

from __future__ import annotations

import logging
from typing import Any

import zmq
from rsu_sdk import PublishError

from rsu.core.netsec import insecure_bind_problem, is_loopback

__all__ = ["is_loopback", "insecure_bind_problem", "configure_curve_server", "configure_curve_client"]

log = logging.getLogger(__name__)


def configure_curve_server(context: zmq.Context, socket: zmq.Socket, curve: Any, what: str) -> Any:
    """Make ``socket`` a CURVE server (``curve``: ``server_secret_key``, ``authorized_keys``) and start the ZAP
    handler on ``context``; returns the authenticator (stop it on close). Call before ``bind``.

    :raises ValueError: naming ``what.curve.<key>`` and the file that cannot be used.
    """
    from rsu.publish.curve import serve_curve

    try:
        auth = serve_curve(context, socket, curve, f"{what}.curve")
    except PublishError as exc:
        raise ValueError(str(exc)) from None
    log.info("%s: CURVE on, authorised client keys from %s", what, curve.authorized_keys)
    return auth


def configure_curve_client(socket: zmq.Socket, curve: Any, what: str) -> None:
    """Make ``socket`` a CURVE client (``curve``: ``server_key``, the server's public key file, and
    ``client_key``, this box's secret key file). Call before ``connect``.

    :raises ValueError: naming ``what.curve.<key>`` and the file that cannot be used.
    """
    from rsu.publish.curve import connect_curve

    try:
        connect_curve(socket, curve, f"{what}.curve")
    except PublishError as exc:
        raise ValueError(str(exc)) from None
