"""One topic rule and one payload code for the host and the test kit (issue 14 items 7 and 8).

The host's ZeroMQ publisher and ``rsu_sdk.testing.RecordingPublisher`` accept and refuse exactly the same
product names and source levels, and ``run_plugin`` publishes what a plugin emits with the host's payload
code, so a plugin's tests see what the box would publish (checked against the published JSON Schemas).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import rsu_sdk.topics
from rsu_sdk import Alarm, Frame, PublishError, hookimpl
from rsu_sdk import testing as kit

import rsu.publish.payloads
import rsu.publish.topics
from rsu.config.publish import ZmqConfig
from rsu.publish import ZmqPublisher
from rsu.publish.schemas import validate

PRODUCTS = ["detections", "v2x/cpm", "fault", "zone_count", "v2x/denm", "my_plugin/state", "a" * 32,
            "", "Fault", "faults", "objects2", "v2x", "env/x", "a/b/c", "x y", "-x", "a" * 33, "a//b", "/x"]
SOURCES = ["cam-1", "furnace-2", "spr.a_1", "A" * 64, "", "a/b", "cam 1", ".hidden", "-x", "é", "A" * 65]


@pytest.fixture(scope="module")
def zmq_pub() -> Iterator[ZmqPublisher]:
    publisher = ZmqPublisher("test-site", ZmqConfig(endpoint="tcp://127.0.0.1:*"))
    yield publisher
    publisher.close(0)


def _outcome(publish) -> str:
    try:
        publish()
    except PublishError:
        return "refused"
    return "sent"


def test_the_host_uses_the_sdk_topic_rule_and_payload_code() -> None:
    for name in rsu_sdk.topics.__all__:
        assert getattr(rsu.publish.topics, name) is getattr(rsu_sdk.topics, name)
    assert rsu.publish.payloads.to_payload is rsu_sdk.payloads.to_payload


@pytest.mark.parametrize("product", PRODUCTS)
def test_recording_publisher_refuses_exactly_the_products_the_host_refuses(zmq_pub: ZmqPublisher,
                                                                           product: str) -> None:
    rec = kit.RecordingPublisher()
    host = _outcome(lambda: zmq_pub.publish(product, {"x": 1}))
    kit_result = _outcome(lambda: rec.publish(product, {"x": 1}))
    assert kit_result == host
    if host == "sent":
        assert rec.messages[0].topic == f"rsu/test-site/{product}"


@pytest.mark.parametrize("source", SOURCES)
def test_recording_publisher_refuses_exactly_the_sources_the_host_refuses(zmq_pub: ZmqPublisher,
                                                                          source: str) -> None:
    rec = kit.RecordingPublisher(site="quarry")
    host = _outcome(lambda: zmq_pub.publish("zone_count", {"x": 1}, source=source))
    kit_result = _outcome(lambda: rec.publish("zone_count", {"x": 1}, source=source))
    assert kit_result == host
    if host == "sent":
        assert rec.messages[0].topic == f"rsu/quarry/zone_count/{source}"


class Relay:
    """Emits one SDK product per hook call: an alarm per prediction, and whatever it is told."""

    def __init__(self) -> None:
        self.commands: list = []
        self.context = None

    @hookimpl
    def rsu_on_start(self, context):
        self.context = context

    @hookimpl
    def rsu_on_prediction(self, prediction):
        self.context.emit(Alarm(source=prediction.device, t_event_ns=prediction.t_event_ns, device=prediction.device,
                                kind="relay", active=prediction.score > 0.5, score=prediction.score))

    @hookimpl
    def rsu_on_reading(self, reading):
        self.context.emit(reading)
        self.context.emit(kit.make_frame())  # frames are routed, never published
        self.context.emit(kit.make_actuation_command(source="spr-1", actuator="spr-1"))
        self.context.emit(kit.make_actuation_outcome(source="spr-1"))
        self.context.emit(kit.make_health_event(source="relay"))
        self.context.emit(kit.make_object_list(source="relay"))

    @hookimpl
    def rsu_on_command(self, command):
        self.commands.append(command)


def test_run_plugin_publishes_emitted_products_as_the_host_does() -> None:
    run = kit.run_plugin(Relay, [kit.make_prediction(0.9, device="furnace-2"), kit.make_reading(device="aq-1")],
                         name="relay")
    published = run.published
    assert [m.topic for m in published] == [
        "rsu/test-site/fault/furnace-2", "rsu/test-site/env/plant-1", "rsu/test-site/actuation/spr-1",
        "rsu/test-site/actuation/spr-1", "rsu/test-site/health/relay", "rsu/test-site/objects/relay"]
    assert [m.schema for m in published] == [
        "rsu.fault.alarm/1", "rsu.env/1", "rsu.actuation.command/1", "rsu.actuation.outcome/1", "rsu.health/1",
        "rsu.objects/1"]
    assert len(run.emitted) == 7 and len(run.emitted_of(Frame)) == 1
    for msg, product in zip(published, [p for p in run.emitted if not isinstance(p, Frame)], strict=True):
        payload = rsu_sdk.payloads.to_payload(product)
        assert (msg.product, msg.source, msg.schema, msg.data) == (payload.product, payload.source, payload.schema,
                                                                   payload.data)
        assert msg.t_event_ns == product.t_event_ns
        envelope = {"schema": msg.schema, "site": "test-site", "source": msg.source, "seq": 0,
                    "t_event": msg.t_event_ns, "t_publish": msg.t_event_ns}
        assert validate({**envelope, **msg.data}) == [], (msg.schema, validate({**envelope, **msg.data}))
    assert published[0].data["active"] is True and published[0].data["device"] == "furnace-2"


def test_commands_reach_rsu_on_command_and_unknown_products_are_refused() -> None:
    cmd = kit.make_actuation_command(actuator="spr-3")
    run = kit.run_plugin(Relay, [cmd])
    assert run.plugin.commands == [cmd]
    context = kit.plugin_context(name="relay")
    with pytest.raises(rsu_sdk.InvalidDataError, match="no hook receives str"):
        context.emit("not a product")  # type: ignore[arg-type]
    with pytest.raises(PublishError, match="source 'a b'"):
        context.emit(kit.make_alarm(source="a b"))  # the topic rule applies to emitted products too


def test_plugin_context_is_what_the_host_hands_a_plugin() -> None:
    emitted: list = []
    pub = kit.RecordingPublisher()
    context = kit.plugin_context(name="zone_watch", config={"zones": [{"name": "a"}]}, publisher=pub,
                                 emitted=emitted)
    assert context.logger.name == "rsu.plugin.zone_watch" and context.site == kit.DEFAULT_SITE
    assert context.config["zones"][0]["name"] == "a" and isinstance(context.config["zones"], tuple)
    with pytest.raises(TypeError):
        context.config["zones"] = ()  # read-only, as on the box
    context.emit(kit.make_alarm(source="dev-1"))
    assert len(emitted) == 1 and [m.topic for m in pub.of_schema("rsu.fault.alarm/1")] == ["rsu/test-site/fault/dev-1"]
