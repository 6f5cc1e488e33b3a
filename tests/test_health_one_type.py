"""One health type: :class:`rsu_sdk.HealthEvent` carries the heartbeat's ``details``; the heartbeat and a disabled
plugin's report are HealthEvents published with schema and event time, on the wire that docs/wire-format.md and
schemas/rsu.health-1.json describe."""

from __future__ import annotations

import pickle
from typing import Any

import pytest
from rsu_sdk import HealthEvent, InvalidDataError, ObjectList, hookimpl
from rsu_sdk.payloads import to_payload
from rsu_sdk.testing import DEFAULT_SITE, RecordingPublisher, make_object_list

from plugin_host_helpers import Recorder
from rsu.app.heartbeat import HeartbeatService
from rsu.plugins import PluginHost, create_plugin_manager
from rsu.publish.payloads import publish_product
from support import Subscriber, wait_until

T = 1_700_000_000_000_000_000


def test_a_change_without_details_keeps_its_old_payload() -> None:
    event = HealthEvent(source="cam-1", t_event_ns=T, component="source:cam-1", status="down", message="lost")
    assert dict(event.details) == {} and event.heartbeat is False
    assert to_payload(event).data == {"component": "source:cam-1", "status": "down", "message": "lost"}


def test_details_are_a_read_only_json_like_copy_compared_as_values() -> None:
    raw = {"drops": 3, "rate": 9.5, "last_error": None, "lanes": {"safety": [1, 2]}}
    event = HealthEvent(source="rsu", t_event_ns=T, component="box", status="ok", details=raw)
    raw["drops"] = 99  # the event kept its own copy
    assert event.details["drops"] == 3 and event.details["lanes"]["safety"] == (1, 2)
    with pytest.raises(TypeError):
        event.details["drops"] = 4  # type: ignore[index]
    twin = HealthEvent(source="rsu", t_event_ns=T, component="box", status="ok",
                       details={"drops": 3, "rate": 9.5, "last_error": None, "lanes": {"safety": (1, 2)}})
    assert event == twin and hash(event) == hash(twin) and len({event, twin}) == 1
    assert event != HealthEvent(source="rsu", t_event_ns=T, component="box", status="ok", details={"drops": 4})
    assert pickle.loads(pickle.dumps(event)) == event
    with pytest.raises(InvalidDataError, match=r"HealthEvent.details.lanes: expected a JSON-like value"):
        HealthEvent(source="rsu", t_event_ns=T, component="box", status="ok", details={"lanes": object()})
    with pytest.raises(InvalidDataError, match="HealthEvent.details: expected a mapping"):
        HealthEvent(source="rsu", t_event_ns=T, component="box", status="ok", details=[1])  # type: ignore[arg-type]


def test_a_heartbeat_event_carries_heartbeat_and_details_on_the_wire() -> None:
    event = HealthEvent(source="rsu", t_event_ns=T, component="box", status="ok", message="running",
                        details={"drops": {"x": 1}, "nan": float("nan")}, heartbeat=True)
    payload = to_payload(event)
    assert (payload.product, payload.source, payload.schema) == ("health", "rsu", "rsu.health/1")
    assert payload.data == {"component": "box", "status": "ok", "message": "running", "heartbeat": True,
                            "details": {"drops": {"x": 1}, "nan": None}}


def test_the_heartbeat_is_published_as_health_events_with_schema_and_event_time() -> None:
    from rsu.config.publish import ZmqConfig
    from rsu.publish.schemas import validate
    from rsu.publish.zmq_publisher import ZmqPublisher

    rows = [("cam-1", "source:cam-1", "degraded", "not opened yet", {"frames": 0, "odd": {1, 2}}),
            ("rsu", "box", "ok", "running", {"lanes": {"safety": 0}})]
    pub = ZmqPublisher(DEFAULT_SITE.name, ZmqConfig(endpoint="tcp://127.0.0.1:*", linger_ms=0))
    try:
        with Subscriber(pub.endpoint, f"rsu/{DEFAULT_SITE.name}/health") as sub:
            assert pub.wait_for_subscribers(1, timeout=60)
            beat = HeartbeatService(lambda event: publish_product(pub, event), lambda: rows, 3600.0,
                                    wall_ns=lambda: T)
            assert beat.beat() == 2 and beat.errors == 0
            got = sub.wait_for_count(2, schema="rsu.health/1", what="two heartbeats")
    finally:
        pub.close(0)
    assert [m.topic for m in got] == [f"rsu/{DEFAULT_SITE.name}/health/cam-1", f"rsu/{DEFAULT_SITE.name}/health/rsu"]
    for msg in got:
        assert validate(msg.payload) == [] and msg.payload["t_event"] == T and msg.payload["heartbeat"] is True
    assert got[0].payload["details"] == {"frames": 0, "odd": "{1, 2}"}  # bounded, JSON-safe (json_details)
    assert got[1].payload["component"] == "box" and got[1].payload["details"] == {"lanes": {"safety": 0}}


class _Failing:
    @hookimpl
    def rsu_on_objects(self, objects: ObjectList) -> None:
        raise RuntimeError("broken")


def _host(emit_sink: Any = None) -> tuple[PluginHost, RecordingPublisher, Recorder]:
    rec = Recorder()
    loaded = create_plugin_manager(["bad", "rec"], extra_plugins=[("bad", _Failing()), ("rec", rec)])
    publisher = RecordingPublisher()
    return PluginHost(loaded, site=DEFAULT_SITE, publisher=publisher, failure_limit=1, emit_sink=emit_sink), \
        publisher, rec


def test_a_disabled_plugin_is_published_with_schema_and_event_time() -> None:
    host, publisher, rec = _host()
    host.start()
    try:
        host.dispatch(make_object_list())
        wait_until(lambda: rec.health, 60, "the other plugin to hear of the disabled one")
        [msg] = publisher.of("health")
    finally:
        host.stop()
    assert (msg.schema, msg.source) == ("rsu.health/1", "plugin.bad")
    assert msg.topic == f"rsu/{DEFAULT_SITE.name}/health/plugin.bad"
    assert msg.t_event_ns is not None and msg.t_event_ns == rec.health[0].t_event_ns
    assert dict(msg.data) == {"component": "plugin:bad", "status": "down", "message": msg.data["message"]}
    assert "broken" in msg.data["message"]


def test_in_the_box_a_disabled_plugin_goes_through_the_lanes_not_the_publisher() -> None:
    routed: list[tuple[Any, str]] = []
    host, publisher, _ = _host(emit_sink=lambda product, origin: routed.append((product, origin)))
    host.start()
    try:
        host.dispatch(make_object_list())
        wait_until(lambda: routed, 60, "the disabled plugin's health to reach the box's lanes")
    finally:
        host.stop()
    [(event, origin)] = routed
    assert publisher.messages == []  # the box's outputs publish it, once, when the router delivers it
    assert isinstance(event, HealthEvent) and origin == "plugin:bad"
    assert (event.source, event.component, event.status) == ("plugin.bad", "plugin:bad", "down")
    assert to_payload(event).schema == "rsu.health/1" and event.t_event_ns > 0


def test_a_heartbeat_read_back_from_the_wire_is_the_same_event() -> None:
    from rsu.pipeline.flink.records import DECODERS

    event = HealthEvent(source="rsu", t_event_ns=T, component="box", status="degraded", message="slow",
                        details={"lanes": {"safety": 2}, "late": [1, 2]}, heartbeat=True)
    payload = to_payload(event)
    envelope = {"schema": payload.schema, "source": payload.source, "t_event": T, **payload.data}
    assert DECODERS["rsu.health/1"](envelope) == event
