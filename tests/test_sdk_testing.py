"""The plugin authors' test kit: fixtures, factories, RecordingPublisher and run_plugin."""

from __future__ import annotations

import dataclasses
import textwrap

import numpy as np
import pluggy
import pytest
from rsu_sdk import (
    ActuationOutcome, Alarm, Detections, Frame, HealthEvent, ObjectList, PluginConfigError, Prediction, PublishError,
    RadarScan, SensorReading, hookimpl,
)
from rsu_sdk import testing as kit

pytest_plugins = ["rsu_sdk.testing", "pytester"]


class Everything:
    """Implements every product hook and records (hook, value); emits an Alarm for each high prediction."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, object]] = []
        self.context = None
        self.stopped = False

    @hookimpl
    def rsu_config_schema(self):
        return {"type": "object", "properties": {"limit": {"type": "number", "minimum": 0}},
                "additionalProperties": False}

    @hookimpl
    def rsu_on_start(self, context):
        self.context = context

    @hookimpl
    def rsu_on_stop(self):
        self.stopped = True

    def _rec(self, hook, value):
        self.seen.append((hook, value))

    @hookimpl
    def rsu_on_frame(self, frame): self._rec("frame", frame)  # noqa: E704

    @hookimpl
    def rsu_on_detections(self, detections): self._rec("detections", detections)  # noqa: E704

    @hookimpl
    def rsu_on_radar(self, scan): self._rec("radar", scan)  # noqa: E704

    @hookimpl
    def rsu_on_objects(self, objects):
        self._rec("objects", objects)
        self.context.publisher.publish("objects", {"n": len(objects.objects), "x": np.float32(1.5)},
                                       source=self.context.name, t_event_ns=objects.t_event_ns)

    @hookimpl
    def rsu_on_reading(self, reading): self._rec("reading", reading)  # noqa: E704

    @hookimpl
    def rsu_on_prediction(self, prediction):
        self._rec("prediction", prediction)
        if prediction.score > self.context.config.get("limit", 0.5):
            self.context.emit(kit.make_alarm(device=prediction.device, score=prediction.score))

    @hookimpl
    def rsu_on_alarm(self, alarm): self._rec("alarm", alarm)  # noqa: E704

    @hookimpl
    def rsu_on_command(self, command): self._rec("command", command)  # noqa: E704

    @hookimpl
    def rsu_on_actuation(self, outcome): self._rec("actuation", outcome)  # noqa: E704

    @hookimpl
    def rsu_on_health(self, event): self._rec("health", event)  # noqa: E704


def test_factories_build_valid_values_and_accept_overrides() -> None:
    made = {
        Frame: kit.make_frame(width=32, height=16), Detections: kit.make_detections(["car", "car", "person"]),
        RadarScan: kit.make_radar_scan(), ObjectList: kit.make_object_list(), SensorReading: kit.make_reading(),
        Prediction: kit.make_prediction(0.7), Alarm: kit.make_alarm(False), HealthEvent: kit.make_health_event(),
        ActuationOutcome: kit.make_actuation_outcome(ok=False),
    }
    for kind, value in made.items():
        assert isinstance(value, kind) and value.t_event_ns == kit.T0_NS
    assert made[Frame].size == (32, 16)
    assert made[Detections].labels == ["car", "car", "person"] and made[Detections].xyxy.shape == (3, 4)
    assert made[ActuationOutcome].error == "no confirmation" and made[Alarm].active is False
    obj = kit.make_fused_object(7, position_enu=(0.0, 111.32, 0.0), velocity_enu=(0.0, -3.0))
    assert obj.lat == pytest.approx(kit.DEFAULT_SITE.lat + 0.001) and obj.heading_deg == pytest.approx(180.0)
    assert kit.make_reading({"pm2_5": 40}, device="air-1", t_event_ns=5).values == {"pm2_5": 40.0}
    assert len(kit.make_detections([])) == 0
    assert kit.make_radar_scan([kit.make_radar_object(object_id=3)], cycle=9).objects[0].object_id == 3


def test_run_plugin_routes_each_product_to_its_hook_and_records_output() -> None:
    inputs = [kit.make_frame(), kit.make_detections(), kit.make_radar_scan(), kit.make_object_list(),
              kit.make_reading(), kit.make_prediction(0.9), kit.make_alarm(), kit.make_actuation_command(),
              kit.make_actuation_outcome(), kit.make_health_event()]
    run = kit.run_plugin(Everything, inputs, config={"limit": 0.8}, name="everything")
    plugin = run.plugin
    assert [v for _, v in plugin.seen] == inputs
    assert [h for h, _ in plugin.seen] == ["frame", "detections", "radar", "objects", "reading", "prediction",
                                           "alarm", "command", "actuation", "health"]
    assert plugin.stopped and plugin.context.site == kit.DEFAULT_SITE
    assert plugin.context.logger.name == "rsu.plugin.everything"
    with pytest.raises(TypeError):
        plugin.context.config["limit"] = 2  # read-only settings
    [msg] = run.messages("objects")
    assert (msg.source, msg.data, msg.t_event_ns) == ("everything", {"n": 2, "x": 1.5}, kit.T0_NS)
    [alarm] = run.emitted_of(Alarm)
    assert alarm.score == pytest.approx(0.9) and run.emitted == [alarm]
    [published] = run.messages("fault")  # the emitted alarm, published as the host would
    assert (published.topic, published.schema, published.data["score"]) == (
        "rsu/test-site/fault/test", "rsu.fault.alarm/1", pytest.approx(0.9))


def test_run_plugin_validates_config_against_the_declared_schema() -> None:
    pytest.importorskip("jsonschema")
    with pytest.raises(PluginConfigError, match=r"limit: -1 is less than the minimum of 0"):
        kit.run_plugin(Everything(), [], config={"limit": -1})
    with pytest.raises(PluginConfigError, match="Additional properties"):
        kit.run_plugin(Everything(), [], config={"limt": 1})

    class NoSchema:
        @hookimpl
        def rsu_on_stop(self):
            pass

    with pytest.raises(PluginConfigError, match="takes no settings"):
        kit.run_plugin(NoSchema(), [], config={"x": 1})


def test_run_plugin_propagates_plugin_errors_but_still_stops_it() -> None:
    class Boom(Everything):
        @hookimpl
        def rsu_on_reading(self, reading):
            raise KeyError("temp")

    plugin = Boom()
    with pytest.raises(KeyError, match="temp"):
        kit.run_plugin(plugin, [kit.make_reading()])
    assert plugin.stopped


def test_recording_publisher_checks_like_the_real_one() -> None:
    pub = kit.RecordingPublisher()
    pub.publish("fault", {"arr": np.arange(3), "v": np.float64(2.0)}, schema="rsu.fault/1")
    pub.publish_binary("v2x/cpm", {"encoding": "cpm-uper"}, b"\x01\x02", source="rsu")
    assert pub.of("fault")[0].data == {"arr": [0, 1, 2], "v": 2.0} and pub.of("fault")[0].schema == "rsu.fault/1"
    assert pub.of("v2x/cpm")[0].body == b"\x01\x02"
    for bad in ("", "Fault", "a//b", "/x", "faults", "v2x"):
        with pytest.raises(PublishError, match="product"):
            pub.publish(bad, {})
    with pytest.raises(PublishError, match="source"):
        pub.publish("fault", {}, source="a/b")
    with pytest.raises(PublishError, match="not JSON-serialisable"):
        pub.publish("fault", {"when": object()})
    with pytest.raises(PublishError, match="not JSON-serialisable"):
        pub.publish("fault", {"v": float("nan")})
    with pytest.raises(PublishError, match="body must be bytes"):
        pub.publish_binary("v2x/cpm", {}, "text")  # type: ignore[arg-type]
    assert len(pub.messages) == 2
    with pytest.raises(dataclasses.FrozenInstanceError):
        pub.messages[0].product = "x"  # type: ignore[misc]


def test_fixtures_give_a_fresh_manager_and_validate_hooks(plugin_manager, register_plugin) -> None:
    assert isinstance(plugin_manager, pluggy.PluginManager) and plugin_manager.get_plugins() == set()
    plugin = register_plugin(Everything, name="everything")
    assert isinstance(plugin, Everything) and plugin_manager.get_plugin("everything") is plugin
    plugin_manager.hook.rsu_on_reading(reading=kit.make_reading())
    assert plugin.seen[0][0] == "reading"

    class Typo:
        @hookimpl
        def rsu_on_readings(self, reading):
            pass

    with pytest.raises(pluggy.PluginValidationError, match="unknown hook 'rsu_on_readings'"):
        register_plugin(Typo())


def test_opt_in_plugin_in_a_user_test_module_and_teardown_unregisters(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_user=textwrap.dedent("""
        from rsu_sdk import hookimpl
        from rsu_sdk.testing import make_reading

        pytest_plugins = ["rsu_sdk.testing"]
        kept = {}

        class Counter:
            n = 0

            @hookimpl
            def rsu_on_reading(self, reading):
                self.n += 1

        def test_register(plugin_manager, register_plugin):
            plugin = register_plugin(Counter)
            plugin_manager.hook.rsu_on_reading(reading=make_reading())
            assert plugin.n == 1
            kept.update(pm=plugin_manager, plugin=plugin)

        def test_unregistered_after_teardown(plugin_manager):
            assert not kept["pm"].is_registered(kept["plugin"])
            assert plugin_manager is not kept["pm"]
    """))
    result = pytester.runpytest_inprocess("-p", "no:cacheprovider", "-W", "error::pytest.PytestAssertRewriteWarning")
    result.assert_outcomes(passed=2)
