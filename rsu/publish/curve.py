"""CURVE keys for the ZeroMQ bus: generate key files, configure the server (with ZAP) and a client.

Key files use ZeroMQ's certificate format (``zmq.auth.load_certificate`` reads them): ``NAME.key`` holds
the public key, ``NAME.key_secret`` the public and the secret key (mode 0600).
"""

from __future__ import annotations

import datetime
import logging
import os
from dataclasses import dataclass
from pathlib import Path

import zmq
import zmq.auth
from zmq.auth.thread import ThreadAuthenticator

from rsu_sdk import PublishError

__all__ = ["KeySet", "generate_keys", "load_keypair", "start_authenticator", "configure_server",
           "configure_client", "add_client", "authorized_names", "serve_curve", "connect_curve"]

log = logging.getLogger(__name__)

_BANNER = "#   ****  Generated on {now} by rsu keys generate  ****\n#   ZeroMQ CURVE {kind} Certificate\n{warn}\n"


@dataclass(frozen=True, slots=True, kw_only=True)
class KeySet:
    """The files ``generate_keys`` wrote."""

    server_public: Path
    server_secret: Path
    authorized_keys: Path
    clients: dict[str, tuple[Path, Path]]  # name -> (public file, secret file)


def _write(path: Path, public: bytes, secret: bytes | None) -> None:
    kind, warn = ("**Secret**", "#   DO NOT PROVIDE THIS FILE TO OTHER USERS nor change its permissions.\n") \
        if secret else ("Public", "#   Exchange securely, or use a secure mechanism to verify the contents\n")
    text = _BANNER.format(now=datetime.datetime.now().isoformat(timespec="seconds"), kind=kind, warn=warn)
    text += f'metadata\ncurve\n    public-key = "{public.decode()}"\n'
    if secret:
        text += f'    secret-key = "{secret.decode()}"\n'
    mode = 0o600 if secret else 0o644
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(text)
    os.chmod(path, mode)  # O_CREAT's mode is filtered by the umask and ignored for existing files


def generate_keys(folder: Path, clients: tuple[str, ...] = ("client",), *, force: bool = False) -> KeySet:
    """Write a server key pair, one key pair per client and ``authorized_keys/`` with the clients' public keys.

    Refuses to overwrite existing key files unless ``force``.
    """
    folder = Path(folder)
    auth_dir = folder / "authorized_keys"
    names = ("server", *clients)
    if len(set(names)) != len(names):
        raise ValueError(f"client names must be unique and not 'server', got {list(clients)}")
    targets = [folder / f"{n}.{ext}" for n in names for ext in ("key", "key_secret")]
    targets += [auth_dir / f"{n}.key" for n in clients]
    existing = [str(p) for p in targets if p.exists()]
    if existing and not force:
        raise FileExistsError(f"key files exist (use --force to replace them): {', '.join(existing)}")
    auth_dir.mkdir(parents=True, exist_ok=True)
    paths: dict[str, tuple[Path, Path]] = {}
    for name in names:
        public, secret = zmq.curve_keypair()
        pub_path, sec_path = folder / f"{name}.key", folder / f"{name}.key_secret"
        _write(pub_path, public, None)
        _write(sec_path, public, secret)
        if name != "server":
            _write(auth_dir / f"{name}.key", public, None)
        paths[name] = (pub_path, sec_path)
    server = paths.pop("server")
    return KeySet(server_public=server[0], server_secret=server[1], authorized_keys=auth_dir, clients=paths)


def add_client(folder: Path, name: str, *, force: bool = False) -> tuple[Path, Path]:
    """Make one more client key pair in ``folder`` and authorise it (``force``: rotate an existing one); the
    server keys stay. Returns ``(public file, secret file)``."""
    folder = Path(folder)
    pub, sec = folder / f"{name}.key", folder / f"{name}.key_secret"
    auth = folder / "authorized_keys" / f"{name}.key"
    if any(p.exists() for p in (pub, sec, auth)) and not force:
        raise FileExistsError(f"client {name!r} exists in {folder} (use --force to rotate its keys)")
    auth.parent.mkdir(parents=True, exist_ok=True)
    public, secret = zmq.curve_keypair()
    _write(pub, public, None)
    _write(sec, public, secret)
    _write(auth, public, None)
    return pub, sec


def load_keypair(path: Path, *, need_secret: bool, what: str) -> tuple[bytes, bytes | None]:
    """Read ``(public, secret)`` from a key file; PublishError naming ``what`` and the file on any problem."""
    try:
        public, secret = zmq.auth.load_certificate(os.fspath(path))
    except (OSError, ValueError) as exc:
        raise PublishError(f"{what}: cannot read key file {path}: {exc}") from None
    if public is None or (need_secret and not secret):
        raise PublishError(f"{what}: {path} holds no {'secret' if need_secret else 'public'} key")
    return public, secret


def start_authenticator(context: zmq.Context, authorized_keys: Path,
                        what: str = "publish.zmq.curve") -> ThreadAuthenticator:
    """Start a ZAP handler in ``context`` that admits only the public keys in the ``authorized_keys`` folder."""
    folder = Path(authorized_keys)
    if not folder.is_dir():
        raise PublishError(f"{what}.authorized_keys: {folder} is not a folder")
    keys = sorted(folder.glob("*.key"))
    if not keys:
        log.warning("%s.authorized_keys: %s holds no *.key file; no client can connect", what, folder)
    auth = ThreadAuthenticator(context, log=logging.getLogger("rsu.publish.zap"))
    auth.start()
    auth.configure_curve(domain="*", location=os.fspath(folder))
    log.info("CURVE: %d authorised subscriber key(s) from %s", len(keys), folder)
    return auth


def configure_server(socket: zmq.Socket, server_secret_key: Path, what: str = "publish.zmq.curve") -> None:
    """Make ``socket`` a CURVE server with the key pair in ``server_secret_key``."""
    public, secret = load_keypair(server_secret_key, need_secret=True, what=f"{what}.server_secret_key")
    socket.curve_secretkey = secret
    socket.curve_publickey = public
    socket.curve_server = True


def configure_client(socket: zmq.Socket, server_key: Path, client_key: Path) -> None:
    """Make ``socket`` a CURVE client: the server's public key file and the client's secret key file."""
    server_public, _ = load_keypair(server_key, need_secret=False, what="--server-key")
    public, secret = load_keypair(client_key, need_secret=True, what="--client-key")
    socket.curve_serverkey = server_public
    socket.curve_publickey = public
    socket.curve_secretkey = secret


def authorized_names(authorized_keys: Path) -> dict[str, str]:
    """The ZAP User-Id (z85 public key) of each key file in ``authorized_keys`` -> its name (file stem)."""
    names: dict[str, str] = {}
    for path in sorted(Path(authorized_keys).glob("*.key")):
        try:
            public, _ = zmq.auth.load_certificate(os.fspath(path))
        except (OSError, ValueError):
            continue
        if public:
            names[public.decode("ascii")] = path.stem
    return names


def serve_curve(context: zmq.Context, socket: zmq.Socket, curve: object, what: str) -> ThreadAuthenticator:
    """CURVE server for any of the box's ZeroMQ servers: ``curve`` has ``server_secret_key`` and
    ``authorized_keys`` (a ``CurveConfig``); ``what`` is its config key for messages. Starts the ZAP handler on
    ``context`` (give each server a context of its own; stop the handler on close). Call before ``bind``."""
    configure_server(socket, Path(curve.server_secret_key), what)  # type: ignore[attr-defined]
    return start_authenticator(context, Path(curve.authorized_keys), what)  # type: ignore[attr-defined]


def connect_curve(socket: zmq.Socket, curve: object, what: str) -> None:
    """CURVE client: ``curve`` has ``server_key`` (the server's public key file) and ``client_key`` (this
    side's secret key file). Call before ``connect``."""
    server_public, _ = load_keypair(Path(curve.server_key), need_secret=False,  # type: ignore[attr-defined]
                                    what=f"{what}.server_key")
    public, secret = load_keypair(Path(curve.client_key), need_secret=True,  # type: ignore[attr-defined]
                                  what=f"{what}.client_key")
    socket.curve_serverkey = server_public
    socket.curve_publickey = public
    socket.curve_secretkey = secret
