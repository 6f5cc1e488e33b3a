"""The plugin end to end through ``rsu_sdk.testing``: fused objects in, CPMs published and sent over UDP."""

from __future__ import annotations

import importlib.metadata
import socket
from collections.abc import Iterator
from typing import Any

import pytest
from cpm_helpers import DEFAULT_SITE, T0_NS, diff, official_decode
from rsu_sdk import EncoderSpec, ObjectList, PluginConfigError
from rsu_sdk.testing import make_fused_object, run_plugin

from rsu_traffic_broadcast import codec
from rsu_traffic_broadcast.plugin import TrafficBroadcast, default_station_id

MS = 1_000_000


@pytest.fixture
def radio() -> Iterator[socket.socket]:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    sock.settimeout(2.0)
    yield sock
    sock.close()


def _cycles(seconds: float, step_ms: int = 50, n: int = 12) -> list[ObjectList]:
    """Fusion cycles with ``n`` cars driving East at 12 m/s (each due again every ~0.35 s)."""
    out = []
    for k in range(int(seconds * 1000 / step_ms)):
        t_s = k * step_ms / 1000
        objs = tuple(make_fused_object(i + 1, position_enu=(12.0 * t_s + 8.0 * i, 3.5 * (i % 3), 0.0),
                                       velocity_enu=(12.0, 0.0), class_name=("car", "pedestrian", "truck")[i % 3])
                     for i in range(n))
        out.append(ObjectList(source="fusion", t_event_ns=T0_NS + k * step_ms * MS, objects=objs))
    return out


def test_publishes_cpms_and_forwards_them_to_the_radio(radio: socket.socket) -> None:
    config = {"station_id": 4242, "radio": {"host": "127.0.0.1", "port": radio.getsockname()[1]},
              "sensors": [{"source": "cam-1", "id": 10, "type": "monovideo", "range_m": 60},
                          {"source": "radar-1", "id": 11, "type": "radar"}]}
    run = run_plugin(TrafficBroadcast, _cycles(2.0), config=config, name="traffic_broadcast")
    published = run.messages("v2x/cpm")
    # 12 m/s: an object has moved more than 4 m after 1/3 s, i.e. at the 350 ms cycle
    assert [(m.t_event_ns - T0_NS) // MS for m in published] == [0, 350, 700, 1050, 1400, 1750]
    datagrams = [radio.recv(65536) for _ in published]
    assert datagrams == [m.body for m in published]
    encoder = TrafficBroadcast().rsu_register_encoders()[0]
    for m in published:
        header, body = m.data, m.body
        assert m.source is None                         # topic rsu/<site>/v2x/cpm
        assert header["encoding"] == "cpm-uper" and header["bytes"] == len(body)
        assert header["station_id"] == 4242
        doc = encoder.decode(body)
        assert doc["header"] == {"protocolVersion": 2, "messageId": 14, "stationId": 4242}
        mc = doc["payload"]["managementContainer"]
        assert header["generation_delta_time"] == mc["referenceTime"] % 65536 == header["reference_time"] % 65536
        containers = {c["containerId"]: c["containerData"] for c in doc["payload"]["cpmContainers"]}
        if 5 in containers:
            assert header["objects"] == containers[5]["numberOfPerceivedObjects"]
            assert header["object_ids"] == [o["objectId"] for o in containers[5]["perceivedObjects"]]
    first = encoder.decode(published[0].body)
    sensors = next(c["containerData"] for c in first["payload"]["cpmContainers"] if c["containerId"] == 3)
    assert [(s["sensorId"], s["sensorType"]) for s in sensors] == [(10, 3), (11, 1)]
    assert sensors[0]["perceptionRegionShape"] == {"circular": {"radius": 600}}
    [radio_stats] = run.plugin.stats()["radios"]
    assert (radio_stats["mode"], radio_stats["sent"], radio_stats["errors"]) == ("udp-bare", {"cpm": len(published)}, 0)
    assert radio_stats["bytes"] == sum(len(m.body) for m in published)


def test_published_bodies_decode_with_the_official_modules(official: Any) -> None:
    run = run_plugin(TrafficBroadcast, _cycles(1.2, n=30), config={"max_bytes": 700})
    published = run.messages("v2x/cpm")
    assert any(m.data["segment"][1] > 1 for m in published)         # 30 objects do not fit 700 bytes
    for m in published:
        assert len(m.body) <= 700
        assert diff(official_decode(official, m.body), codec.decode(m.body)) == []
    assert published[0].data["station_id"] == default_station_id(DEFAULT_SITE.name)


def test_quiet_scene_uses_the_quiet_rate() -> None:
    cycles = _cycles(2.0, n=2)
    run = run_plugin(TrafficBroadcast, cycles, config={"busy_threshold": 3, "quiet_hz": 4, "busy_hz": 10})
    times = [m.t_event_ns for m in run.messages("v2x/cpm")]
    assert min(b - a for a, b in zip(times, times[1:])) >= 250 * MS - 2 * MS


@pytest.mark.parametrize(("config", "where"), [
    ({"busy_hz": 50}, "busy_hz"), ({"max_bytes": 10}, "max_bytes"), ({"radio": {"host": "x"}}, "port"),
    ({"station_id": -1}, "station_id"), ({"colour": "red"}, "colour"),
    ({"sensors": [{"source": "cam-1", "id": 1, "type": "sonar"}]}, "sensors"),
])
def test_bad_settings_are_rejected(config: dict, where: str) -> None:
    with pytest.raises(PluginConfigError, match=where):
        run_plugin(TrafficBroadcast, [], config=config)


def test_duplicate_sensor_ids_are_a_config_error() -> None:
    config = {"sensors": [{"source": "cam-1", "id": 1}, {"source": "cam-2", "id": 1}]}
    with pytest.raises(PluginConfigError, match=r"sensors\[1\]\.id"):
        run_plugin(TrafficBroadcast, [], config=config)


def test_extreme_objects_never_raise_in_the_hot_path() -> None:
    wild = make_fused_object(10**12, position_enu=(1e7, -1e7, 1e5), velocity_enu=(1e4, -1e4), heading_deg=float("nan"),
                             class_name="unknown", size=(1e3, -1.0, 0.0), age_s=-5.0, confidence=0.0)
    run = run_plugin(TrafficBroadcast, [ObjectList(source="f", t_event_ns=T0_NS, objects=(wild,))])
    [msg] = run.messages("v2x/cpm")
    obj = codec.decode(msg.body)["payload"]["cpmContainers"][-1]["containerData"]["perceivedObjects"][0]
    assert obj["objectId"] == 10**12 % 65536
    assert obj["position"]["xCoordinate"]["value"] == 131071
    assert run.plugin.stats()["encode_errors"] == 0


def test_entry_point_and_encoder_registration() -> None:
    [ep] = [e for e in importlib.metadata.entry_points(group="rsu.plugins") if e.name == "traffic_broadcast"]
    assert ep.load() is TrafficBroadcast
    [spec] = TrafficBroadcast().rsu_register_encoders()
    assert isinstance(spec, EncoderSpec) and spec.name == "cpm-uper"
    cycle = _cycles(0.05, n=10)[0]
    body = spec.encode_objects(cycle, DEFAULT_SITE)
    doc = spec.decode(body)
    assert spec.encode(doc) == body
    assert doc["payload"]["cpmContainers"][-1]["containerData"]["numberOfPerceivedObjects"] == 10

