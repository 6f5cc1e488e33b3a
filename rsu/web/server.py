"""The HTTP server of the box: waitress (a maintained, pure-Python WSGI server) in front of a small router.

Endpoints: ``/`` (dashboard) and ``/static/<file>``, ``/api/state``, ``/api/frame/<camera>.jpg``, ``/metrics``,
``/healthz``, ``/readyz``: GET and HEAD only; ``/api/sources`` (:mod:`rsu.web.sources_api`) also POST and
DELETE. Why waitress and not ``ThreadingHTTPServer`` (docs/security.md): one event loop reads every request
whole (headers capped) before a fixed pool of ``threads`` runs it, so half-open or slow connections hold no
thread; at most ``max_connections`` are open, idle ones close after ``idle_timeout_s``; responses are written
by the loop, not by the request threads.

Authentication (:mod:`rsu.web.auth`): with a token every request needs it (``Authorization: Bearer``, the
``rsu_token`` cookie, or ``?token=`` once, which sets the cookie). TLS (:mod:`rsu.web.tls`, ``web.tls``): the
port speaks HTTPS only, optionally requiring a client certificate; waitress then listens on a private Unix
socket behind the TLS front. A host beyond loopback with neither a token nor required client certificates is
refused before anything is bound.
"""

from __future__ import annotations

import json
import logging
import re
import shutil
import socket
import ssl
import tempfile
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from importlib import resources
from typing import Any
from urllib.parse import unquote

from rsu.core.netsec import insecure_host_problem
from rsu.metrics.health import Check
from rsu.web.auth import TokenAuth
from rsu.web.sources_api import handles as sources_path
from rsu.web.sources_api import Response, sources_response
from rsu.web.sources_api import json_response as _json

__all__ = ["WebApp", "WebServer", "WebLimits", "InsecureHostError"]

log = logging.getLogger(__name__)

_STATIC_TYPES = {".html": "text/html; charset=utf-8", ".js": "text/javascript; charset=utf-8",
                 ".css": "text/css; charset=utf-8", ".svg": "image/svg+xml"}
_STATIC_NAME = re.compile(r"^[a-z0-9_-]+\.(html|js|css|svg)$")
_FRAME_PATH = re.compile(r"^/api/frame/([A-Za-z0-9_.:-]+)\.jpg$")
_SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
                               "connect-src 'self'; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}
_REASONS = {200: "OK", 201: "Created", 303: "See Other", 400: "Bad Request", 401: "Unauthorized", 403: "Forbidden",
            404: "Not Found", 405: "Method Not Allowed", 409: "Conflict", 415: "Unsupported Media Type",
            500: "Internal Server Error", 503: "Service Unavailable"}


class InsecureHostError(ValueError):
    """A host beyond loopback without authentication."""


@dataclass
class WebApp:
    """What the server answers with; each callable runs on a request thread.

    ``state`` and ``frame`` are None when the dashboard is off; ``metrics`` is None when metrics are off.
    ``frame(camera)`` returns a :class:`~rsu.web.frames.RenderedFrame` or None for an unknown camera.
    """

    liveness: Callable[[], Check]
    readiness: Callable[[], Check]
    metrics: Callable[[], tuple[bytes, str]] | None = None
    state: Callable[[], dict[str, Any]] | None = None
    frame: Callable[[str], Any] | None = None
    sources: Any = None  # rsu.app.live_sources.LiveSources: /api/sources


@dataclass(frozen=True, slots=True, kw_only=True)
class WebLimits:
    """The server's bounds (``web`` config section)."""

    threads: int = 4
    max_connections: int = 100
    idle_timeout_s: float = 15.0
    max_header_bytes: int = 16 * 1024


def _static(name: str) -> Response:
    res = resources.files("rsu.web").joinpath("static", name) if _STATIC_NAME.match(name) else None
    if res is None or not res.is_file():
        return _json(404, {"error": f"no such file: {name[:80]}"})
    return 200, res.read_bytes(), _STATIC_TYPES["." + name.rsplit(".", 1)[1]], {}


def route(app: WebApp, path: str) -> Response:
    """The response to GET ``path`` (already authenticated)."""
    if path == "/healthz" or path == "/readyz":
        check = app.liveness() if path == "/healthz" else app.readiness()
        return _json(200 if check.ok else 503, check.json())
    if path == "/metrics" and app.metrics is not None:
        body, ctype = app.metrics()
        return 200, body, ctype, {}
    if app.state is not None and path in ("/", "/index.html"):
        return _static("index.html")
    if app.state is not None and path.startswith("/static/"):
        return _static(path[len("/static/"):])
    if app.state is not None and path == "/api/state":
        return _json(200, app.state())
    if app.frame is not None and (m := _FRAME_PATH.match(path)):
        rendered = app.frame(m.group(1))
        if rendered is None:
            return _json(404, {"error": f"no camera {m.group(1)!r}"})
        return 200, rendered.jpeg, "image/jpeg", {
            "X-Frame-Kind": rendered.kind,
            "X-Frame-Id": "" if rendered.frame_id is None else str(rendered.frame_id),
            "X-Privacy-Boxes": json.dumps(rendered.privacy_boxes, separators=(",", ":")),
        }
    return _json(404, {"error": f"not found: {path[:120]}"})


class _Wsgi:
    """The WSGI application: method check, authentication, routing, security headers."""

    def __init__(self, app: WebApp, auth: TokenAuth | None) -> None:
        self.app = app
        self.auth = auth
        self.counts = {"requests": 0, "unauthorised": 0, "errors": 0}

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        self.counts["requests"] += 1
        method = environ.get("REQUEST_METHOD", "GET")
        path = unquote(environ.get("PATH_INFO", "/"))
        live = self.app.sources if sources_path(path) else None
        if method not in ("GET", "HEAD") and live is None:
            resp = _json(405, {"error": f"method {method[:16]} not allowed"}, {"Allow": "GET, HEAD"})
        elif self.auth is not None and (denied := self.auth.check(environ)) is not None:
            self.counts["unauthorised"] += int(denied[0] == 401)
            resp = denied
        else:
            try:
                resp = route(self.app, path) if live is None else sources_response(live, method, path, environ)
            except Exception as exc:  # noqa: BLE001 - one bad request must not stop the server
                self.counts["errors"] += 1
                log.exception("web: %s failed", path[:120])
                resp = _json(500, {"error": f"{type(exc).__name__}: {exc}"})
        status, body, ctype, extra = resp
        headers = [("Content-Type", ctype), ("Content-Length", str(len(body))),
                   *_SECURITY_HEADERS.items(), *extra.items()]
        start_response(f"{status} {_REASONS.get(status, 'Error')}", headers)
        return [b""] if method == "HEAD" else [body]


def _bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host.strip("[]"), port))
        sock.listen(128)
    except OSError:
        sock.close()
        raise
    return sock


class WebServer:
    """Binds at construction (so a taken port is a start-up error), serves on a thread after :meth:`start`.

    :param token: the shared secret every request must present.
    :param tls: a server context (:func:`rsu.web.tls.server_context`): HTTPS only on ``port``; with
        ``client_certs`` (the context requires a client certificate) no token is needed beyond loopback.
    :raises InsecureHostError: ``host`` is beyond loopback with neither a token nor client certificates
        (nothing is bound).
    """

    def __init__(self, app: WebApp, host: str = "127.0.0.1", port: int = 8080, *, token: str | None = None,
                 limits: WebLimits = WebLimits(), tls: ssl.SSLContext | None = None) -> None:
        from waitress.server import create_server

        self.client_certs = tls is not None and tls.verify_mode == ssl.CERT_REQUIRED
        problem = insecure_host_problem(host, token is not None or self.client_certs,
                                        "web.token_file or web.tls.client_ca")
        if problem:
            raise InsecureHostError(f"web: {problem}")
        self.wsgi = _Wsgi(app, TokenAuth(token, secure=tls is not None) if token is not None else None)
        self._sock = _bind(host, port)
        self.host = host
        self.port = int(self._sock.getsockname()[1])
        self.tls = tls is not None
        self._private: str | None = None
        self._front: Any = None
        where: dict[str, Any] = {"sockets": [self._sock]}
        if tls is not None:  # waitress behind the TLS front, on a socket only this user can open
            from rsu.web.tls import TlsFront

            self._private = tempfile.mkdtemp(prefix="rsu-web-")
            backend = f"{self._private}/http.sock"
            self._front = TlsFront(self._sock, tls, backend, max_connections=limits.max_connections,
                                   handshake_timeout_s=limits.idle_timeout_s)
            where = {"unix_socket": backend, "unix_socket_perms": "600"}
        self._map: dict[int, Any] = {}
        self._server = create_server(
            self.wsgi, map=self._map, threads=limits.threads,
            connection_limit=limits.max_connections, channel_timeout=limits.idle_timeout_s,
            cleanup_interval=max(1, int(limits.idle_timeout_s / 3)), max_request_header_size=limits.max_header_bytes,
            max_request_body_size=64 * 1024, ident="rsu", expose_tracebacks=False, asyncore_use_poll=True,
            clear_untrusted_proxy_headers=True, **where)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{'https' if self.tls else 'http'}://{host}:{self.port}/"

    def _loop(self) -> None:
        loop = self._server.asyncore.loop
        while not self._stop.is_set():
            try:
                loop(timeout=0.2, map=self._map, use_poll=True, count=1)
            except Exception:  # noqa: BLE001 - the loop must outlive any one connection
                log.exception("web: event loop")

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._loop, name="web", daemon=True)
            self._thread.start()
            if self._front is not None:
                self._front.start()

    def close(self) -> None:
        """Stop serving and release the port; idempotent."""
        if self._front is not None:
            self._front.close()
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5)
            self._thread = None
        for channel in list(self._map.values()):
            try:
                channel.close()
            except OSError:
                pass
        self._map.clear()
        self._server.task_dispatcher.shutdown(cancel_pending=True, timeout=5)
        self._sock.close()
        if self._private is not None:
            shutil.rmtree(self._private, ignore_errors=True)
