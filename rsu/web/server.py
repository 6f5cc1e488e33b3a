"""The HTTP server of the box (standard library ``ThreadingHTTPServer``; nothing loaded from the network).

Endpoints: ``/`` (dashboard) and ``/static/<file>``, ``/api/state``, ``/api/frame/<camera>.jpg``, ``/metrics``,
``/healthz``, ``/readyz``. Requests run on their own threads and only read the live state, so a slow or
busy client never holds up the sensor path.
"""

from __future__ import annotations

import json
import logging
import re
import socket
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources
from typing import Any, Callable
from urllib.parse import unquote, urlsplit

from rsu.metrics.health import Check

__all__ = ["WebApp", "WebServer"]

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


def _static(name: str) -> bytes | None:
    if not _STATIC_NAME.match(name):
        return None
    res = resources.files("rsu.web").joinpath("static", name)
    return res.read_bytes() if res.is_file() else None


class _Handler(BaseHTTPRequestHandler):
    server_version = "rsu"
    sys_version = ""
    timeout = 15  # a client that stops talking frees its thread
    server: _Server

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        app = self.server.app
        path = unquote(urlsplit(self.path).path)
        try:
            if path == "/healthz":
                self._check(app.liveness())
            elif path == "/readyz":
                self._check(app.readiness())
            elif path == "/metrics" and app.metrics is not None:
                body, ctype = app.metrics()
                self._send(200, body, ctype)
            elif app.state is not None and path in ("/", "/index.html"):
                self._static("index.html")
            elif app.state is not None and path.startswith("/static/"):
                self._static(path[len("/static/"):])
            elif app.state is not None and path == "/api/state":
                self._json(200, app.state())
            elif app.frame is not None and (m := _FRAME_PATH.match(path)):
                self._frame(app.frame(m.group(1)), m.group(1))
            else:
                self._json(404, {"error": f"not found: {path}"})
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client went away
        except Exception as exc:  # noqa: BLE001 - one bad request must not stop the server
            log.exception("web: %s failed", path)
            try:
                self._json(500, {"error": f"{type(exc).__name__}: {exc}"})
            except OSError:
                pass

    def _check(self, check: Check) -> None:
        self._json(200 if check.ok else 503, check.json())

    def _static(self, name: str) -> None:
        body = _static(name)
        if body is None:
            self._json(404, {"error": f"no such file: {name}"})
            return
        self._send(200, body, _STATIC_TYPES["." + name.rsplit(".", 1)[1]])

    def _frame(self, rendered: Any, camera: str) -> None:
        if rendered is None:
            self._json(404, {"error": f"no camera {camera!r}"})
            return
        self._send(200, rendered.jpeg, "image/jpeg", {
            "X-Frame-Kind": rendered.kind,
            "X-Frame-Id": "" if rendered.frame_id is None else str(rendered.frame_id),
            "X-Privacy-Boxes": json.dumps(rendered.privacy_boxes, separators=(",", ":")),
        })

    def _json(self, status: int, doc: Any) -> None:
        self._send(status, json.dumps(doc, separators=(",", ":"), default=str).encode(), "application/json")

    def _send(self, status: int, body: bytes, ctype: str, headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        for key, value in {**_SECURITY_HEADERS, **(headers or {})}.items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, fmt: str, *args: Any) -> None:
        log.debug("web: %s " + fmt, self.address_string(), *args)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], app: WebApp) -> None:
        if ":" in address[0]:
            self.address_family = socket.AF_INET6
        self.app = app
        super().__init__(address, _Handler)


class WebServer:
    """Binds at construction (so a taken port is a start-up error), serves on a thread after :meth:`start`."""

    def __init__(self, app: WebApp, host: str = "127.0.0.1", port: int = 8080) -> None:
        self._server = _Server((host, port), app)
        self.host = host
        self.port = int(self._server.server_address[1])
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}/"

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.2},
                                            name="web", daemon=True)
            self._thread.start()

    def close(self) -> None:
        """Stop serving and release the port; idempotent."""
        if self._thread is not None:
            self._server.shutdown()
            self._thread.join(5)
            self._thread = None
        self._server.server_close()
