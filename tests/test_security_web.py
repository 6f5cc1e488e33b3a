"""The web server against hostile clients: no token, half-open connections, huge headers, many at once; and
a host beyond loopback without a token (or not a host at all) refused before anything is bound."""

from __future__ import annotations

import http.client
import socket
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from click.testing import CliRunner

from rsu.app.build import StartupError, build_box
from rsu.cli import main
from rsu.config import ConfigError, parse_config
from rsu.metrics.health import Check
from rsu.web.auth import load_token
from rsu.web.server import InsecureHostError, WebApp, WebLimits, WebServer
from support import free_port

TOKEN = "t0k3n-" + "x" * 30
PATHS = ("/", "/index.html", "/static/app.js", "/api/state", "/api/frame/cam.jpg", "/metrics", "/healthz",
         "/readyz", "/nope")


class _Frame:
    jpeg, kind, frame_id, privacy_boxes = b"\xff\xd8\xffSECRET-FRAME", "camera", 1, []


def _app() -> WebApp:
    return WebApp(liveness=lambda: Check(True, {"router": "alive"}), readiness=lambda: Check(True, {}),
                  metrics=lambda: (b"rsu_secret_metric 1\n", "text/plain"),
                  state=lambda: {"schema": "rsu.dashboard/1", "secret": "camera positions"},
                  frame=lambda cam: _Frame() if cam == "cam" else None)


@pytest.fixture()
def server() -> Iterator[WebServer]:
    srv = WebServer(_app(), "127.0.0.1", 0, token=TOKEN, limits=WebLimits(threads=4, idle_timeout_s=30))
    srv.start()
    yield srv
    srv.close()


def _get(srv: WebServer, path: str, headers: dict[str, str] | None = None,
         timeout: float = 30) -> tuple[int, dict[str, str], bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=timeout)
    try:
        conn.request("GET", path, headers=headers or {})
        resp = conn.getresponse()
        return resp.status, {k.lower(): v for k, v in resp.getheaders()}, resp.read()
    finally:
        conn.close()


def test_without_the_token_nothing_of_the_box_is_served(server: WebServer) -> None:
    for path in PATHS:
        for headers in ({}, {"Authorization": "Bearer wrong-" + "y" * 30}, {"Cookie": "rsu_token=nope"},
                        {"Authorization": "Basic " + TOKEN}):
            status, hdrs, body = _get(server, path, headers)
            assert status == 401, (path, headers, status)
            assert hdrs["www-authenticate"].startswith("Bearer") and b"secret" not in body.lower()
            assert b"SECRET-FRAME" not in body and b"rsu_" not in body
        assert _get(server, path + "?token=wrong")[0] == 401
    assert server.wsgi.counts["unauthorised"] == len(PATHS) * 5


def test_bearer_cookie_and_the_browser_link(server: WebServer) -> None:
    auth = {"Authorization": f"Bearer {TOKEN}"}
    assert _get(server, "/api/state", auth)[2] == b'{"schema":"rsu.dashboard/1","secret":"camera positions"}'
    assert _get(server, "/metrics", auth)[2] == b"rsu_secret_metric 1\n"
    assert _get(server, "/api/frame/cam.jpg", auth)[2].startswith(b"\xff\xd8\xff")
    status, headers, _ = _get(server, f"/?token={TOKEN}&x=1")
    assert status == 303 and headers["location"] == "/?x=1"  # the token leaves the address bar
    cookie = headers["set-cookie"]
    assert cookie.startswith(f"rsu_token={TOKEN};") and "HttpOnly" in cookie and "SameSite=Strict" in cookie
    status, _, page = _get(server, "/", {"Cookie": f"rsu_token={TOKEN}"})
    assert status == 200 and b"/static/app.js" in page
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    try:
        conn.request("POST", "/api/state", body=b"{}", headers=auth)
        assert conn.getresponse().status == 405
    finally:
        conn.close()


def _waitress_threads() -> int:
    return sum(1 for t in threading.enumerate() if t.name.startswith("waitress"))


def test_60_half_open_connections_hold_no_thread_and_block_no_request(server: WebServer) -> None:
    before = threading.active_count()
    idle: list[socket.socket] = []
    try:
        for i in range(60):
            s = socket.create_connection(("127.0.0.1", server.port), timeout=30)
            if i % 2:
                s.sendall(b"GET /api/state HTTP/1.1\r\nHost: x\r\n")  # headers never finished
            idle.append(s)
        status, _, body = _get(server, "/healthz", {"Authorization": f"Bearer {TOKEN}"})
        assert status == 200 and b'"ok":true' in body
        assert _waitress_threads() <= 4  # the fixed pool, not one thread per connection
        assert threading.active_count() <= before + 4
    finally:
        for s in idle:
            s.close()


def test_oversized_headers_are_refused_and_the_server_goes_on(server: WebServer) -> None:
    status, _, _ = _get(server, "/healthz", {"Authorization": f"Bearer {TOKEN}", "X-Big": "a" * 40_000})
    assert status == 431
    assert _get(server, "/healthz", {"Authorization": f"Bearer {TOKEN}"})[0] == 200


def test_many_concurrent_requests_are_all_answered_by_a_bounded_pool(server: WebServer) -> None:
    auth = {"Authorization": f"Bearer {TOKEN}"}
    with ThreadPoolExecutor(max_workers=32) as pool:
        statuses = list(pool.map(lambda _: _get(server, "/api/state", auth, timeout=120)[0], range(200)))
    assert statuses == [200] * 200
    assert _waitress_threads() <= 4


def test_beyond_loopback_without_a_token_refuses_to_start(tmp_path: Path) -> None:
    port = free_port()
    with pytest.raises(InsecureHostError, match=r"host 0\.0\.0\.0 is reachable beyond loopback"):
        WebServer(_app(), "0.0.0.0", port)
    with socket.socket() as s:  # nothing was bound
        s.bind(("0.0.0.0", port))
    site = {"name": "s", "lat": 0, "lon": 0}
    with pytest.raises(ConfigError, match="web.token_file"):
        parse_config({"site": site, "web": {"enabled": True, "host": "0.0.0.0"}})
    with pytest.raises(ConfigError, match="not a valid host"):
        parse_config({"site": site, "web": {"enabled": True, "host": "not a host!"}})
    cfg = tmp_path / "box.yaml"
    cfg.write_text("site: {name: s, lat: 0, lon: 0}\nweb: {enabled: true, host: '::'}\n")
    result = CliRunner().invoke(main, ["check", str(cfg)])
    assert result.exit_code == 2 and "web.token_file" in result.output, result.output


def test_a_bad_token_file_is_a_startup_error(tmp_path: Path) -> None:
    short = tmp_path / "short"
    short.write_text("abc\n")
    with pytest.raises(ValueError, match="at least 24"):
        load_token(short)
    raw = {"site": {"name": "s", "lat": 0, "lon": 0}, "publish": {"zmq": {"endpoint": "tcp://127.0.0.1:*"}},
           "web": {"enabled": True, "port": 0, "host": "0.0.0.0", "token_file": str(short)}}
    with pytest.raises(StartupError, match="web.token_file"):
        build_box(parse_config(raw), base_dir=tmp_path)


def test_rsu_keys_token_makes_a_secret_file(tmp_path: Path) -> None:
    path = tmp_path / "web.token"
    result = CliRunner().invoke(main, ["keys", "token", str(path)])
    assert result.exit_code == 0, result.output
    assert path.stat().st_mode & 0o077 == 0 and len(load_token(path)) >= 24
    assert CliRunner().invoke(main, ["keys", "token", str(path)]).exit_code != 0  # never overwritten silently
