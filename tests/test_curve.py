"""CURVE: an authorised subscriber gets everything, an unauthorised one (or one without CURVE) nothing."""

from __future__ import annotations

import json
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import zmq
from click.testing import CliRunner
from rsu_sdk import PublishError
from zmq.utils.monitor import parse_monitor_message

from rsu.cli import main
from rsu.config.publish import CurveConfig, ZmqConfig
from rsu.publish import ZmqPublisher
from rsu.publish.curve import KeySet, configure_client, generate_keys
from support import Subscriber, ZmqSub

N = 25


@pytest.fixture()
def keys(tmp_path: Path) -> KeySet:
    return generate_keys(tmp_path / "keys", ("alice",))


@pytest.fixture()
def outsider(tmp_path: Path) -> KeySet:
    """A well-formed key pair the box has never seen."""
    return generate_keys(tmp_path / "other", ("mallory",))


@pytest.fixture()
def pub(keys: KeySet) -> Iterator[ZmqPublisher]:
    curve = CurveConfig(server_secret_key=keys.server_secret, authorized_keys=keys.authorized_keys)
    publisher = ZmqPublisher("test-site", ZmqConfig(endpoint="tcp://127.0.0.1:*", curve=curve))
    yield publisher
    publisher.close(0)


@pytest.fixture()
def ctx() -> Iterator[zmq.Context]:
    context = zmq.Context()
    yield context
    context.destroy(linger=0)


def refused_subscriber(ctx: zmq.Context, endpoint: str, name: str, event: int,
                       keys: tuple[Path, Path] | None) -> ZmqSub:
    """Connect a SUB and wait until its handshake has failed with ``event`` (no sleeping, no race)."""
    monitors: list[zmq.Socket] = []

    def configure(sock: zmq.Socket) -> None:  # before it connects: keys, and a monitor that sees the handshake
        if keys is not None:
            configure_client(sock, *keys)
        monitors.append(sock.get_monitor_socket(event, addr=f"inproc://monitor-{name}"))

    sub = ZmqSub(endpoint, context=ctx, configure=configure)
    (monitor,) = monitors
    try:
        assert monitor.poll(60_000), f"{name}: the handshake did not fail"
        assert parse_monitor_message(monitor.recv_multipart())["event"] == event
    finally:
        sub.sock.disable_monitor()
        monitor.close(0)
    return sub


def test_only_authorised_subscribers_receive(ctx: zmq.Context, pub: ZmqPublisher, keys: KeySet,
                                             outsider: KeySet) -> None:
    mallory = refused_subscriber(ctx, pub.endpoint, "mallory", zmq.EVENT_HANDSHAKE_FAILED_AUTH,
                                 (keys.server_public, outsider.clients["mallory"][1]))
    plain = refused_subscriber(ctx, pub.endpoint, "plain", zmq.EVENT_HANDSHAKE_FAILED_PROTOCOL, None)
    with Subscriber(pub.endpoint, context=ctx,
                    configure=lambda s: configure_client(s, keys.server_public, keys.clients["alice"][1])) as alice:
        assert pub.wait_for_subscribers(1, timeout=60)
        for i in range(N):
            pub.publish("env", {"device": "d", "values": {"x": float(i)}, "units": {}}, source="s1",
                        schema="rsu.env/1")
        got = alice.wait_for_count(N, timeout=60, what=f"{N} messages at the authorised subscriber")
        assert [m.payload["seq"] for m in got] == list(range(N))
        # everything has been delivered to alice by now; the refused ones hold no connection at all
        assert mallory.poll(300) == 0 and plain.poll(0) == 0
        assert pub.stats()["subscriptions"] == 1


def test_tap_with_keys(pub: ZmqPublisher, keys: KeySet, outsider: KeySet, tmp_path: Path) -> None:
    def tap(client_key: Path, *extra: str) -> subprocess.Popen:
        return subprocess.Popen(
            [sys.executable, "-m", "rsu", "tap", pub.endpoint, "--no-plugins", "--server-key",
             str(keys.server_public), "--client-key", str(client_key), *extra],
            cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

    refused = tap(outsider.clients["mallory"][1], "--timeout", "1")
    out, err = refused.communicate(timeout=60)
    assert refused.returncode == 1 and out == ""
    assert "no message" in err and "refused this client's key" in err

    allowed = tap(keys.clients["alice"][1], "--count", "3", "--timeout", "60")
    try:
        assert pub.wait_for_subscribers(1, timeout=60)
        for _ in range(3):
            pub.publish("health", {"component": "c", "status": "ok", "message": ""}, schema="rsu.health/1")
        out, err = allowed.communicate(timeout=60)
    finally:
        if allowed.poll() is None:
            allowed.kill()
            allowed.communicate()
    assert allowed.returncode == 0, err
    assert [json.loads(line)["payload"]["seq"] for line in out.splitlines()] == [0, 1, 2]


def test_keys_generate_cli(tmp_path: Path) -> None:
    folder = tmp_path / "k"
    result = CliRunner().invoke(main, ["keys", "generate", str(folder), "--client", "ops", "--client", "v2x"])
    assert result.exit_code == 0, result.output
    for name in ("server", "ops", "v2x"):
        assert stat.S_IMODE((folder / f"{name}.key_secret").stat().st_mode) == 0o600
        assert stat.S_IMODE((folder / f"{name}.key").stat().st_mode) == 0o644
        assert str(folder / f"{name}.key_secret") in result.output
    assert sorted(p.name for p in (folder / "authorized_keys").iterdir()) == ["ops.key", "v2x.key"]
    assert "server_secret_key:" in result.output and "authorized_keys:" in result.output
    # the printed snippet is a valid publish.curve section
    snippet = result.output.split("curve:\n", 1)[1].split("\n\n", 1)[0]
    fields = dict(line.strip().split(": ", 1) for line in snippet.splitlines())
    CurveConfig(**fields)
    again = CliRunner().invoke(main, ["keys", "generate", str(folder)])
    assert again.exit_code == 1 and "--force" in again.output
    assert CliRunner().invoke(main, ["keys", "generate", str(folder), "--force"]).exit_code == 0


def test_bad_curve_config_is_reported(keys: KeySet, tmp_path: Path) -> None:
    public_only = CurveConfig(server_secret_key=keys.server_public, authorized_keys=keys.authorized_keys)
    with pytest.raises(PublishError, match="server_secret_key.*no secret key"):
        ZmqPublisher("s", ZmqConfig(endpoint="tcp://127.0.0.1:*", curve=public_only))
    missing = CurveConfig(server_secret_key=keys.server_secret, authorized_keys=tmp_path / "nope")
    with pytest.raises(PublishError, match="authorized_keys.*not a folder"):
        ZmqPublisher("s", ZmqConfig(endpoint="tcp://127.0.0.1:*", curve=missing))
