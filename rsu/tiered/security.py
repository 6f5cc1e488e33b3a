"""CURVE for the offload link, with the bus's keys (``rsu keys generate DIR``) and the bus's rule: a server that
binds beyond loopback without keys refuses to start.

Server: its own ZeroMQ context with a ZAP handler admitting only the public keys in ``authorized_keys/``;
a client whose key is not there never completes the handshake, so none of its requests reaches the server.
Client (the box): the server's public key file and the box's own secret key file.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

import zmq

from rsu.config.tiered import insecure_bind_problem, is_loopback

__all__ = ["is_loopback", "insecure_bind_problem", "configure_curve_server", "configure_curve_client"]

log = logging.getLogger(__name__)


def _keypair(path: Path, *, need_secret: bool, what: str) -> tuple[bytes, bytes | None]:
    import zmq.auth

    try:
        public, secret = zmq.auth.load_certificate(os.fspath(path))
    except (OSError, ValueError) as exc:
        raise ValueError(f"{what}: cannot read key file {path}: {exc}") from None
    if public is None or (need_secret and not secret):
        raise ValueError(f"{what}: {path} holds no {'secret' if need_secret else 'public'} key")
    return public, secret


def configure_curve_server(context: zmq.Context, socket: zmq.Socket, curve: Any, what: str) -> Any:
    """Make ``socket`` a CURVE server (``curve``: ``server_secret_key``, ``authorized_keys``) and start the ZAP
    handler on ``context``; returns the authenticator (stop it on close). Call before ``bind``."""
    from zmq.auth.thread import ThreadAuthenticator

    folder = Path(curve.authorized_keys)
    if not folder.is_dir():
        raise ValueError(f"{what}.curve.authorized_keys: {folder} is not a folder")
    public, secret = _keypair(Path(curve.server_secret_key), need_secret=True, what=f"{what}.curve.server_secret_key")
    keys = sorted(folder.glob("*.key"))
    if not keys:
        log.warning("%s.curve.authorized_keys: %s holds no *.key file; no client can connect", what, folder)
    auth = ThreadAuthenticator(context, log=logging.getLogger("rsu.tiered.zap"))
    auth.start()
    auth.configure_curve(domain="*", location=os.fspath(folder))
    socket.curve_secretkey = secret
    socket.curve_publickey = public
    socket.curve_server = True
    log.info("%s: CURVE on, %d authorised client key(s) from %s", what, len(keys), folder)
    return auth


def configure_curve_client(socket: zmq.Socket, curve: Any, what: str) -> None:
    """Make ``socket`` a CURVE client (``curve``: ``server_key``, the server's public key file, and
    ``client_key``, this box's secret key file). Call before ``connect``."""
    server_public, _ = _keypair(Path(curve.server_key), need_secret=False, what=f"{what}.curve.server_key")
    public, secret = _keypair(Path(curve.client_key), need_secret=True, what=f"{what}.curve.client_key")
    socket.curve_serverkey = server_public
    socket.curve_publickey = public
    socket.curve_secretkey = secret
