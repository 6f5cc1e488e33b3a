"""Data the box used to throw away (issue 23): readings late from their link, an oversized ZeroMQ message,
hostile JSON nesting, and broken configs that must be named by their key path or file."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest
import yaml
import zmq
from click.testing import CliRunner
from rsu_sdk import SensorReading

from rsu.app.build import input_policies
from rsu.app.testing import Subscriber, free_port, running_box, wait_for
from rsu.cli import main
from rsu.config import parse_config
from rsu.core.clock import ManualClock
from rsu.core.envelope import Envelope, Lane
from rsu.core.lanes import InputPolicy, Lanes

SITE = {"name": "quarry-3", "lat": 48.1, "lon": 11.5}
LATE_S = 10
MIB = 1024 * 1024


def _reading_msg(t_ns: int, pm2_5: float, station: str = "aq-1") -> list[bytes]:
    return [b"air", json.dumps({"station": station, "t_ns": t_ns, "pm2_5": pm2_5}).encode()]


def test_late_readings_are_published_and_an_oversized_message_costs_only_itself(tmp_path: Path) -> None:
    """An air station on ZeroMQ whose readings are stamped 10 s before they are sent, with one 1 MiB message
    among them: every valid reading is published (counted late, none shed), the big one is counted bad, and
    the readings after it still arrive (the peer was not disconnected)."""
    port = free_port()
    pub = zmq.Context.instance().socket(zmq.PUB)
    pub.setsockopt(zmq.LINGER, 0)
    pub.bind(f"tcp://127.0.0.1:{port}")
    clock = ManualClock(wall_ns=time.time_ns())  # ages and lateness move only when the test says so
    cfg = {"site": SITE,
           "sources": [{"id": "air-1", "type": "air_station", "zmq": {"endpoint": f"tcp://127.0.0.1:{port}"}}],
           "fusion": {"enabled": False},
           "publish": {"zmq": {"endpoint": "tcp://127.0.0.1:*"}, "health_interval_s": 0.1},
           "pipeline": {"checkpoint": {"enabled": False}}}
    try:
        with running_box(cfg, tmp_path, clock=clock) as built, \
                Subscriber(built.endpoint, f"rsu/{SITE['name']}/") as sub:
            source = built.box.sources[0]
            sub.wait_for_count(1, schema="rsu.health/1", timeout=60, what="the first heartbeat (subscribed)")

            def probe() -> bool:  # slow joiner: repeat until the box's SUB socket has subscribed
                pub.send_multipart(_reading_msg(clock.wall_ns(), 1.0, station="probe"))
                return source.stats()["readings"] > 0

            wait_for(probe, 30, "the air station's subscription")
            late_ns = clock.wall_ns() - LATE_S * 1_000_000_000
            for i in range(20):
                if i == 10:
                    pub.send_multipart([b"air", json.dumps({"pm2_5": 5.0, "pad": "x" * MIB}).encode()])
                pub.send_multipart(_reading_msg(late_ns + i, float(i)))

            def published() -> list[dict[str, Any]]:
                return [m.payload for m in sub.under(f"rsu/{SITE['name']}/env/") if m.payload["device"] == "aq-1"]

            wait_for(lambda: len(published()) >= 20, 60, "the 20 late readings published")

            def late_in_health() -> Any:
                beats = [m for m in sub.of("rsu.health/1") if m.get("component") == "source:air-1"]
                return beats and sum(beats[-1]["details"].get("late", {}).values()) == 20

            wait_for(late_in_health, 30, "the source's heartbeat counting 20 late readings")
            stats = source.stats()
            summary = built.box.summary()
            readings = published()
    finally:
        pub.close()
    assert [r["values"]["pm2_5"] for r in readings] == [float(i) for i in range(20)]
    assert summary["late"] == {"air-1.SensorReading": 20}
    assert summary["stale"] == {}
    assert stats["bad"] == 1 and stats["bad_reasons"] == {"oversized": 1}
    assert "more than 65536" in stats["last_error"]


def _lanes(policy: InputPolicy, clock: ManualClock) -> tuple[Lanes, list[str], list[str]]:
    stale: list[str] = []
    late: list[str] = []
    lanes = Lanes(clock=clock, on_stale=lambda k, p: stale.append(p.device), on_late=lambda k, p: late.append(p.device))
    lanes.set_policy("s", policy)
    return lanes, stale, late


def _put(lanes: Lanes, clock: ManualClock, device: str, behind_s: float) -> None:
    product = SensorReading(source="s", t_event_ns=clock.wall_ns() - int(behind_s * 1e9), device=device,
                            values={"x": 1.0})
    lanes.put(Envelope(product, "source:s", Lane.SENSOR, clock.monotonic_ns()), "s")


def test_freshness_counts_the_wait_in_the_box_not_the_event_time() -> None:
    clock = ManualClock()
    lanes, stale, late = _lanes(InputPolicy(max_age_ns=2_000_000_000, late_after_ns=2_000_000_000), clock)
    _put(lanes, clock, "late-link", behind_s=10)  # late from its link: processed, counted late
    _put(lanes, clock, "recorded", behind_s=3600)  # a recorded timeline: neither late nor stale
    assert [lanes.take(0).product.device for _ in range(2)] == ["late-link", "recorded"]
    assert late == ["late-link"] and stale == []
    _put(lanes, clock, "waited", behind_s=0)
    clock.advance(2.5)  # the router was busy: it waited in the box's queue too long
    _put(lanes, clock, "fresh", behind_s=0)
    assert lanes.take(0).product.device == "fresh"
    assert stale == ["waited"] and late == ["late-link"]


@pytest.mark.parametrize(("pipeline", "expected"), [
    ({}, {"cam": 500_000_000, "air": None, "plant": None}),  # readings are not shed by default
    ({"freshness": {"readings_max_age_ms": 30_000}}, {"cam": 500_000_000, "air": 30_000_000_000,
                                                      "plant": 30_000_000_000}),
    ({"freshness": {"max_age_ms": {"air_station": 5_000}}}, {"cam": 500_000_000, "air": 5_000_000_000,
                                                             "plant": None}),
    ({"freshness": {"sources": {"plant": 100}}}, {"cam": 500_000_000, "air": None, "plant": 100_000_000}),
])
def test_each_source_kind_has_its_own_freshness(pipeline: dict[str, Any], expected: dict[str, int | None]) -> None:
    cfg = parse_config({"site": SITE, "pipeline": pipeline, "sources": [
        {"id": "cam", "type": "camera", "url": "v.avi"},
        {"id": "air", "type": "air_station", "zmq": {"endpoint": "tcp://127.0.0.1:5570"}},
        {"id": "plant", "type": "sensor_replay", "path": "p"}]})

    class Src:
        def __init__(self, sid: str) -> None:
            self.id = sid

    policies = input_policies(cfg, [(s, Src(s.id)) for s in cfg.sources])
    assert {k: p.max_age_ns for k, p in policies.items()} == expected
    assert {p.late_after_ns for p in policies.values()} == {2_000_000_000}


# -- every parser raises only its documented error --------------------------------------------------------

DEEP = b"[" * 200_000 + b"]" * 200_000
DEEP_OBJECT = b'{"id": 1, "x": ' + b'{"a": ' * 100 + b"1" + b"}" * 100 + b"}"


def _codecs() -> list[tuple[str, Any, type[Exception]]]:
    from rsu.federated import wire
    from rsu.tiered import protocol

    return [("tiered", protocol, protocol.ProtocolError), ("federated", wire, wire.WireError)]


@pytest.mark.parametrize("header", [
    DEEP, b'{"id": 1, "x": ' + b"[" * 200_000 + b"]" * 200_000 + b"}", DEEP_OBJECT, b"\xff\xfe", b"1" * 5000,
    b'{"id": ' + b"9" * 5000 + b"}", b"[]", b"",
], ids=["deep-array", "deep-in-object", "deep-but-parses", "not-utf8", "huge-int", "huge-id", "array", "empty"])
@pytest.mark.parametrize("codec", [0, 1], ids=["tiered", "federated"])
def test_frame_codecs_raise_only_their_own_error(codec: int, header: bytes) -> None:
    _name, module, error = _codecs()[codec]
    with pytest.raises(error):
        module.unpack([b"", module.PROTOCOL, header])


def test_frame_codec_still_reads_a_normal_header() -> None:
    from rsu.tiered import protocol

    doc, rest = protocol.unpack(protocol.pack({"id": 7, "meta": {"a": [1, {"b": 2}]}}, b"body"))
    assert doc == {"id": 7, "meta": {"a": [1, {"b": 2}]}} and rest == [b"body"]


def _source_parsers() -> list[tuple[Any, type[Exception]]]:
    from rsu.sources.air_station.message import MessageError, parse_message
    from rsu.sources.bounds import InputRangeError, load_json_object
    from rsu.sources.radar_udp import DatagramError, parse_datagram
    from rsu.sources.replay import parse_camera_line

    return [
        (lambda p: parse_message(p, source="s", default_station="aq", received_ns=0), MessageError),
        (lambda p: parse_datagram(p, "r", 0), DatagramError),
        (lambda p: load_json_object(p, max_bytes=1 << 20), InputRangeError),
        (parse_camera_line, InputRangeError),
    ]


@pytest.mark.parametrize("payload", [b"[" * 60_000, b'{"a": ' * 10_000 + b"1" + b"}" * 10_000, b"\x00\xff"],
                         ids=["deep-array", "deep-object", "binary"])
@pytest.mark.parametrize("which", range(4), ids=["air-station", "radar-udp", "bounds", "camera-line"])
def test_source_parsers_raise_only_their_own_error(which: int, payload: bytes) -> None:
    parse, error = _source_parsers()[which]
    with pytest.raises(error):
        parse(payload)


# -- broken configs name their key or their file ----------------------------------------------------------

def _check(tmp_path: Path, content: bytes | dict[str, Any]) -> tuple[Path, Any]:
    path = tmp_path / "site.yaml"
    path.write_bytes(content if isinstance(content, bytes) else yaml.safe_dump(content).encode())
    return path, CliRunner().invoke(main, ["check", "--no-ports", str(path)])


@pytest.mark.parametrize(("enabled", "index", "hint"), [
    (["furnace_fault", "foo"], 1, ""), (["foo"], 0, ""),
    (["dust_control", "furnace_fault", "no-such"], 2, ""),
    (["furnace_fault", "dust-control"], 1, "; did you mean dust_control?"),
])
def test_check_names_an_unknown_plugin_by_its_key(tmp_path: Path, enabled: list[str], index: int, hint: str) -> None:
    _path, result = _check(tmp_path, {"site": SITE, "plugins": {"enabled": enabled}})
    assert result.exit_code == 2 and "Traceback" not in result.output
    lines = [ln.strip() for ln in result.output.splitlines()]
    name = enabled[index]
    assert any(ln.startswith(f"plugins.enabled[{index}]: plugin {name!r} is not installed (installed: ")
               and "furnace_fault" in ln and ln.endswith(f"){hint}") for ln in lines), result.output


@pytest.mark.parametrize(("content", "words"), [
    (b"\x7fELF\x02\x01\x01\x00\x00\x00garbage", "not a text file (a NUL byte at offset 7)"),
    (bytes(range(256)), "not a text file (a NUL byte at offset 0)"),
    (b"site: {name: caf\xe9, lat: 0, lon: 0}\n", "not UTF-8 text: byte 0xe9 at offset 16 (line 1)"),
    (b"\x89PNG\r\n\x1a\n\xff\xd8" + b"\x01" * 40, "not UTF-8 text: byte 0x89 at offset 0"),
    ("site: {}\n".encode("utf-16"), "the file is UTF-16 text"),
], ids=["elf", "all-bytes", "latin-1", "png-no-nul", "utf-16"])
def test_check_names_a_binary_file_and_what_is_wrong(tmp_path: Path, content: bytes, words: str) -> None:
    path, result = _check(tmp_path, content)
    assert result.exit_code == 2 and "Traceback" not in result.output
    lines = [ln.strip() for ln in result.output.splitlines()]
    assert any(ln.startswith(f"{path}: ") and words in ln for ln in lines), result.output
