"""The web server over TLS (``web.tls``): a client with a certificate from the configured CA gets the box's
state; one without a certificate, or with one from another CA, gets nothing; plain HTTP to the TLS port gets
no answer; a host beyond loopback needs a token or client certificates."""

from __future__ import annotations

import http.client
import json
import socket
import ssl
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from rsu.cli import main
from rsu.config import ConfigError, parse_config
from rsu.metrics.health import Check
from rsu.web.certs import TlsFiles, generate_tls
from rsu.web.server import InsecureHostError, WebApp, WebLimits, WebServer
from rsu.web.tls import TlsSettingsError, server_context
from support import running_box, wait_until

TOKEN = "t0k3n-" + "z" * 30
STATE = {"schema": "rsu.dashboard/1", "secret": "camera positions"}


def _app() -> WebApp:
    return WebApp(liveness=lambda: Check(True, {"router": "alive"}), readiness=lambda: Check(True, {}),
                  state=lambda: STATE, frame=lambda cam: None)


@pytest.fixture(scope="module")
def tls(tmp_path_factory: pytest.TempPathFactory) -> TlsFiles:
    return generate_tls(tmp_path_factory.mktemp("tls"), ("box.example",), ("alice",))


@pytest.fixture(scope="module")
def other(tmp_path_factory: pytest.TempPathFactory) -> TlsFiles:
    """A well-formed CA and client certificate the box has never seen."""
    return generate_tls(tmp_path_factory.mktemp("other"), (), ("mallory",))


def _client_ctx(tls: TlsFiles, cert: tuple[Path, Path] | None) -> ssl.SSLContext:
    ctx = ssl.create_default_context(cafile=str(tls.ca_cert))
    if cert is not None:
        ctx.load_cert_chain(str(cert[0]), str(cert[1]))
    return ctx


def _https(srv: WebServer, path: str, ctx: ssl.SSLContext, headers: dict[str, str] | None = None
           ) -> tuple[int, dict[str, str], bytes]:
    conn = http.client.HTTPSConnection("127.0.0.1", srv.port, context=ctx, timeout=30)
    try:
        conn.request("GET", path, headers=headers or {})
        resp = conn.getresponse()
        return resp.status, {k.lower(): v for k, v in resp.getheaders()}, resp.read()
    finally:
        conn.close()


@pytest.fixture()
def server(tls: TlsFiles) -> Iterator[WebServer]:
    srv = WebServer(_app(), "127.0.0.1", 0, limits=WebLimits(idle_timeout_s=30),
                    tls=server_context(tls.server_cert, tls.server_key, tls.ca_cert))
    srv.start()
    yield srv
    srv.close()


def _alice(tls: TlsFiles) -> tuple[Path, Path]:
    return tls.clients["alice"][0], tls.clients["alice"][1]


def test_a_client_with_a_certificate_gets_the_state(server: WebServer, tls: TlsFiles) -> None:
    assert server.url.startswith("https://")
    ctx = _client_ctx(tls, _alice(tls))
    for _ in range(3):  # new connections each time, each verified
        status, headers, body = _https(server, "/api/state", ctx)
        assert status == 200 and json.loads(body) == STATE
        assert headers["content-type"] == "application/json"
    conn = http.client.HTTPSConnection("127.0.0.1", server.port, context=ctx, timeout=30)
    try:  # keep-alive: several requests on one TLS connection
        for path in ("/healthz", "/api/state", "/readyz"):
            conn.request("GET", path)
            resp = conn.getresponse()
            assert resp.status == 200 and resp.read()
    finally:
        conn.close()


def _refused(srv: WebServer, ctx: ssl.SSLContext) -> bytes:
    """What a client gets: the handshake or the first read fails (TLS 1.3 reports a refused certificate
    after the client's side of the handshake); returns whatever bytes came (expected: none)."""
    got = b""
    with socket.create_connection(("127.0.0.1", srv.port), timeout=30) as raw:
        try:
            with ctx.wrap_socket(raw, server_hostname="localhost") as s:
                s.sendall(b"GET /api/state HTTP/1.1\r\nHost: localhost\r\n\r\n")
                while chunk := s.recv(65536):
                    got += chunk
        except (ssl.SSLError, ConnectionError):
            pass
    return got


def test_without_a_certificate_or_with_a_foreign_one_nothing_is_served(server: WebServer, tls: TlsFiles,
                                                                       other: TlsFiles) -> None:
    foreign = (other.clients["mallory"][0], other.clients["mallory"][1])
    for cert in (None, foreign):
        assert _refused(server, _client_ctx(tls, cert)) == b""
    assert server.wsgi.counts["requests"] == 0  # nothing reached the router
    wait_until(lambda: server._front.counts["handshake_failed"] >= 2, 60, "both handshakes counted as failed")


def test_plain_http_to_the_tls_port_gets_no_answer(server: WebServer, tls: TlsFiles) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    try:
        with pytest.raises((http.client.HTTPException, ConnectionError)):
            conn.request("GET", "/api/state")
            conn.getresponse()
    finally:
        conn.close()
    assert server.wsgi.counts["requests"] == 0
    status, _, _ = _https(server, "/healthz", _client_ctx(tls, _alice(tls)))  # the server is still fine
    assert status == 200


def test_half_open_tls_connections_do_not_block_others(server: WebServer, tls: TlsFiles) -> None:
    idle = [socket.create_connection(("127.0.0.1", server.port), timeout=30) for _ in range(40)]
    try:
        status, _, body = _https(server, "/api/state", _client_ctx(tls, _alice(tls)))
        assert status == 200 and json.loads(body) == STATE
    finally:
        for s in idle:
            s.close()


def test_tls_with_a_token_still_needs_the_token(tls: TlsFiles) -> None:
    srv = WebServer(_app(), "127.0.0.1", 0, token=TOKEN, tls=server_context(tls.server_cert, tls.server_key))
    srv.start()
    try:
        ctx = _client_ctx(tls, None)  # no client certificate needed without client_ca
        assert _https(srv, "/api/state", ctx)[0] == 401
        assert _https(srv, "/api/state", ctx, {"Authorization": f"Bearer {TOKEN}"})[0] == 200
        status, headers, _ = _https(srv, f"/?token={TOKEN}", ctx)
        assert status == 303 and "; Secure" in headers["set-cookie"]
    finally:
        srv.close()


def test_beyond_loopback_needs_a_token_or_client_certificates(tls: TlsFiles, tmp_path: Path) -> None:
    with pytest.raises(InsecureHostError, match=r"web\.token_file or web\.tls\.client_ca"):
        WebServer(_app(), "0.0.0.0", 0, tls=server_context(tls.server_cert, tls.server_key))  # TLS alone: no
    srv = WebServer(_app(), "0.0.0.0", 0, tls=server_context(tls.server_cert, tls.server_key, tls.ca_cert))
    srv.close()
    site = {"name": "s", "lat": 0, "lon": 0}
    web = {"enabled": True, "host": "0.0.0.0", "tls": {"cert": str(tls.server_cert), "key": str(tls.server_key)}}
    with pytest.raises(ConfigError, match=r"web\.token_file or web\.tls\.client_ca"):
        parse_config({"site": site, "web": web})
    parse_config({"site": site, "web": {**web, "tls": {**web["tls"], "client_ca": str(tls.ca_cert)}}})
    path = tmp_path / "web.yaml"
    path.write_text(json.dumps({"site": site, "web": web}))
    result = CliRunner().invoke(main, ["check", str(path)])
    assert result.exit_code == 2 and "web.tls.client_ca" in result.output and "Traceback" not in result.output


def test_bad_tls_files_are_named(tls: TlsFiles, tmp_path: Path) -> None:
    with pytest.raises(TlsSettingsError, match=r"web\.tls\.cert: .* is not a file"):
        server_context(tmp_path / "missing.crt", tls.server_key)
    with pytest.raises(TlsSettingsError, match=r"web\.tls\.cert / web\.tls\.key"):
        server_context(tls.server_cert, tls.clients["alice"][1])  # a key that does not match
    garbage = tmp_path / "ca.pem"
    garbage.write_text("not a certificate\n")
    with pytest.raises(TlsSettingsError, match=r"web\.tls\.client_ca"):
        server_context(tls.server_cert, tls.server_key, garbage)


def test_a_box_serves_its_dashboard_over_tls(tls: TlsFiles, tmp_path: Path) -> None:
    cfg = {"site": {"name": "s", "lat": 0, "lon": 0},
           "publish": {"zmq": {"endpoint": "tcp://127.0.0.1:*"}},
           "pipeline": {"checkpoint": {"dir": str(tmp_path / "ckpt")}},
           "web": {"enabled": True, "port": 0, "tls": {"cert": str(tls.server_cert), "key": str(tls.server_key),
                                                       "client_ca": str(tls.ca_cert)}}}
    with running_box(cfg, tmp_path) as built:
        srv = built.services.server
        assert built.services.url.startswith("https://")
        status, _, body = _https(srv, "/api/state", _client_ctx(tls, _alice(tls)))
        assert status == 200 and json.loads(body)["schema"].startswith("rsu.dashboard")
        assert _refused(srv, _client_ctx(tls, None)) == b""


def test_rsu_keys_tls(tmp_path: Path) -> None:
    folder = tmp_path / "tls"
    result = CliRunner().invoke(main, ["keys", "tls", str(folder), "--host", "10.0.0.7", "--client", "ops"])
    assert result.exit_code == 0, result.output
    assert "client_ca:" in result.output
    for name in ("ca.key", "server.key", "ops.key", "ops.p12"):
        assert stat.S_IMODE((folder / name).stat().st_mode) == 0o600, name
    again = CliRunner().invoke(main, ["keys", "tls", str(folder)])
    assert again.exit_code == 1 and "--force" in again.output
    more = CliRunner().invoke(main, ["keys", "tls-client", str(folder), "laptop"])
    assert more.exit_code == 0 and (folder / "laptop.crt").is_file(), more.output
    assert CliRunner().invoke(main, ["keys", "tls-client", str(folder), "server"]).exit_code == 2
    ctx = server_context(folder / "server.crt", folder / "server.key", folder / "ca.crt")
    srv = WebServer(_app(), "127.0.0.1", 0, tls=ctx)
    srv.start()
    try:
        client = ssl.create_default_context(cafile=str(folder / "ca.crt"))
        client.load_cert_chain(str(folder / "laptop.crt"), str(folder / "laptop.key"))
        conn = http.client.HTTPSConnection("127.0.0.1", srv.port, context=client, timeout=30)
        conn.request("GET", "/healthz")
        assert conn.getresponse().status == 200
        conn.close()
    finally:
        srv.close()


def test_rsu_check_names_a_missing_or_unloadable_tls_file(tls: TlsFiles, tmp_path: Path) -> None:
    site = {"name": "s", "lat": 0, "lon": 0}
    for tls_cfg, key in (({"cert": str(tmp_path / "none.crt"), "key": str(tls.server_key)}, "web.tls.cert"),
                         ({"cert": str(tls.server_cert), "key": str(tls.clients["alice"][1])}, "web.tls.key")):
        path = tmp_path / "web.yaml"
        path.write_text(json.dumps({"site": site, "publish": {"zmq": {"endpoint": "tcp://127.0.0.1:*"}},
                                    "web": {"enabled": True, "port": 0, "tls": tls_cfg}}))
        result = CliRunner().invoke(main, ["check", str(path)])
        assert result.exit_code == 2 and key in result.output and "Traceback" not in result.output, result.output
