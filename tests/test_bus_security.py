"""The ZeroMQ bus follows the rule of every server of the box: beyond loopback only with CURVE keys, else
start-up is refused (config check, ``rsu check`` / ``rsu run`` exit 2, and the publisher itself)."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest
import zmq
from click.testing import CliRunner
from rsu_sdk import PublishError

from rsu.cli import main
from rsu.config import ConfigError, parse_config
from rsu.config.publish import CurveConfig, ZmqConfig
from rsu.publish import ZmqPublisher
from rsu.publish.curve import configure_client, generate_keys
from support import Subscriber, ZmqSub, free_port

SITE = {"name": "s", "lat": 0, "lon": 0}


@pytest.mark.parametrize("endpoint", ["tcp://0.0.0.0:{port}", "tcp://*:{port}", "tcp://[::]:{port}"])
def test_the_publisher_refuses_a_bind_beyond_loopback_without_keys(endpoint: str) -> None:
    port = free_port()
    cfg = ZmqConfig.model_construct(**{**ZmqConfig().model_dump(), "endpoint": endpoint.format(port=port)})
    with pytest.raises(PublishError, match=r"publish\.zmq\.endpoint: .* reachable beyond loopback .* "
                                           r"publish\.zmq\.curve"):
        ZmqPublisher("s", cfg)
    with socket.socket() as s:  # nothing was bound
        s.bind(("0.0.0.0", port))


def test_the_config_check_names_the_key(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"publish\.zmq.*publish\.zmq\.curve"):
        parse_config({"site": SITE, "publish": {"zmq": {"endpoint": "tcp://*:5556"}}})
    parse_config({"site": SITE, "publish": {"zmq": {"endpoint": "tcp://127.0.0.1:5556"}}})  # loopback: fine
    parse_config({"site": SITE, "publish": {"zmq": {"endpoint": "ipc:///tmp/rsu-bus"}}})
    path = tmp_path / "bus.yaml"
    path.write_text("site: {name: s, lat: 0, lon: 0}\npublish:\n  zmq:\n    endpoint: tcp://0.0.0.0:5556\n")
    for args in (["check", str(path)], ["run", str(path), "--for", "1"]):
        result = CliRunner().invoke(main, args)
        assert result.exit_code == 2, (args, result.output)
        assert "publish.zmq" in result.output and "no CURVE keys" in result.output, result.output
        assert "Traceback" not in result.output


def test_beyond_loopback_with_keys_serves_only_authorised_subscribers(tmp_path: Path) -> None:
    keys = generate_keys(tmp_path / "keys", ("alice",))
    curve = CurveConfig(server_secret_key=keys.server_secret, authorized_keys=keys.authorized_keys)
    pub = ZmqPublisher("s", ZmqConfig(endpoint=f"tcp://0.0.0.0:{free_port()}", curve=curve))
    ctx = zmq.Context()
    try:
        port = pub.endpoint.rsplit(":", 1)[1]
        plain = ZmqSub(f"tcp://127.0.0.1:{port}", context=ctx)
        with Subscriber(f"tcp://127.0.0.1:{port}", context=ctx, configure=lambda s: configure_client(
                s, keys.server_public, keys.clients["alice"][1])) as alice:
            assert pub.wait_for_subscribers(1, timeout=60)
            for i in range(5):
                pub.publish("env", {"device": "d", "values": {"x": float(i)}, "units": {}}, schema="rsu.env/1")
            got = alice.wait_for_count(5, timeout=60, what="5 messages at the authorised subscriber")
            assert [m.payload["seq"] for m in got] == list(range(5))
            assert plain.poll(300) == 0  # the subscriber without keys got nothing
        plain.close()
    finally:
        pub.close(0)
        ctx.destroy(linger=0)


def test_a_plaintext_bus_beyond_loopback_is_an_explicit_choice(caplog: pytest.LogCaptureFixture) -> None:
    with pytest.raises(ConfigError, match=r"plaintext_beyond_loopback"):  # the error names the way out
        parse_config({"site": SITE, "publish": {"zmq": {"endpoint": "tcp://0.0.0.0:5556"}}})
    port = free_port()
    cfg = parse_config({"site": SITE, "publish": {"zmq": {"endpoint": f"tcp://0.0.0.0:{port}",
                                                          "plaintext_beyond_loopback": True}}})
    with caplog.at_level("WARNING", logger="rsu.publish.zmq_publisher"):
        pub = ZmqPublisher.from_config(cfg)
    try:
        assert any("WITHOUT CURVE" in r.getMessage() for r in caplog.records)
        with Subscriber(f"tcp://127.0.0.1:{port}") as sub:
            assert pub.wait_for_subscribers(1, timeout=60)
            pub.publish("env", {"device": "d", "values": {"x": 1.0}, "units": {}}, schema="rsu.env/1")
            got = sub.wait_for_count(1, timeout=60)[0].payload
            assert got["schema"] == "rsu.env/1" and got["seq"] == 0, got
    finally:
        pub.close(0)
