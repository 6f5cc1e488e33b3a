"""A box that fails to build closes what it had built, in reverse order: the publisher's port is free again and
no thread of the half-built box (the uplink monitor, the Kafka sender) is left running."""

from __future__ import annotations

import socket
import threading
from pathlib import Path
from typing import Any

import pytest
import zmq

from rsu.app.build import StartupError, build_box
from rsu.config import parse_config
from support import free_port, wait_until

WAIT_S = 60.0  # a hang guard, not a measurement


def _raw(tmp_path: Path, pub_port: int, **changes: Any) -> dict[str, Any]:
    raw: dict[str, Any] = {
        "version": 1, "site": {"name": "half", "lat": 0, "lon": 0},
        "publish": {"zmq": {"endpoint": f"tcp://127.0.0.1:{pub_port}", "linger_ms": 0},
                    "uplink": {"enabled": True},  # its monitor thread starts with the publisher
                    "kafka": {"bootstrap_servers": f"127.0.0.1:{free_port()}",  # no broker: journal only
                              "journal": {"dir": str(tmp_path / "kafka")}, "close_timeout_s": 0}},
        "pipeline": {"checkpoint": {"dir": str(tmp_path / "ckpt")}},
    }
    raw.update(changes)
    return raw


def _port_free(port: int) -> bool:
    ctx = zmq.Context.instance()
    sock = ctx.socket(zmq.PUB)
    sock.setsockopt(zmq.LINGER, 0)
    try:
        sock.bind(f"tcp://127.0.0.1:{port}")
        return True
    except zmq.ZMQError:
        return False
    finally:
        sock.close(0)


def _left_running(before: set[threading.Thread]) -> list[str]:
    return [t.name for t in threading.enumerate() if t not in before and t.is_alive()]


def _fail_web_port(tmp_path: Path, pub_port: int, hold: list[socket.socket]) -> dict[str, Any]:
    taken = socket.socket()
    taken.bind(("127.0.0.1", 0))
    taken.listen()
    hold.append(taken)  # the web server is the last part bound: publisher, uplink and Kafka exist by then
    return _raw(tmp_path, pub_port, web={"enabled": True, "port": taken.getsockname()[1]})


def _fail_model(tmp_path: Path, pub_port: int, hold: list[socket.socket]) -> dict[str, Any]:
    (tmp_path / "clip.avi").write_bytes(b"\0" * 64)  # exists: the detector's model is the problem
    return _raw(tmp_path, pub_port, sources=[{"id": "cam-1", "type": "camera", "url": "clip.avi"}],
                models={"detector": {"model": str(tmp_path / "absent.onnx")}})


@pytest.mark.parametrize(("make", "problem"), [(_fail_web_port, "web: cannot listen on"),
                                               (_fail_model, "models.detector.model: model file not found")],
                         ids=["web-port-taken", "detector-model-missing"])
def test_a_failed_build_frees_the_publisher_port_and_leaves_no_thread(tmp_path: Path, make: Any,
                                                                      problem: str) -> None:
    pub_port = free_port()
    hold: list[socket.socket] = []
    try:
        raw = make(tmp_path, pub_port, hold)
        before = set(threading.enumerate())
        with pytest.raises(StartupError) as info:
            build_box(parse_config(raw), base_dir=tmp_path)
        assert any(p.startswith(problem) for p in info.value.problems), info.value.problems
        wait_until(lambda: not _left_running(before), WAIT_S, "the half-built box's threads to end")
        assert _left_running(before) == []
        assert wait_until(lambda: _port_free(pub_port), WAIT_S, f"the publisher's port {pub_port} to be free")
    finally:
        for s in hold:
            s.close()


def test_a_failed_build_closes_in_reverse_order(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from rsu.publish.kafka_output import KafkaOutput
    from rsu.publish.uplink import UplinkPublisher
    from rsu.publish.zmq_publisher import ZmqPublisher

    closed: list[str] = []
    for cls, name in ((ZmqPublisher, "zmq"), (UplinkPublisher, "uplink"), (KafkaOutput, "kafka")):
        original = cls.close

        def close(self: Any, *args: Any, _original: Any = original, _name: str = name) -> None:
            closed.append(_name)
            _original(self, *args)

        monkeypatch.setattr(cls, "close", close)
    hold: list[socket.socket] = []
    try:
        with pytest.raises(StartupError):
            build_box(parse_config(_fail_web_port(tmp_path, free_port(), hold)), base_dir=tmp_path)
    finally:
        for s in hold:
            s.close()
    assert closed[:3] == ["kafka", "uplink", "zmq"]  # each exactly once from the build; uplink closes its parent
    assert closed.count("kafka") == 1 and closed.count("uplink") == 1
