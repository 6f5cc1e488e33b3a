"""The plugin host: isolation (failures, slow plugins), settings validation, enabling and blocking."""

from __future__ import annotations

import logging
import threading
from pathlib import Path

import pytest
from click.testing import CliRunner
from plugin_host_helpers import Blocking, Failing, Recorder, host_with, object_lists
from rsu_sdk import hookimpl
from rsu_sdk.testing import DEFAULT_SITE, RecordingPublisher, make_alarm, make_object_list, make_reading

from rsu.config import parse_config
from rsu.plugins import PluginHost, PluginLoadError, check_plugins, create_plugin_manager

SITE = {"name": "test-site", "lat": 48.0, "lon": 11.0}


def test_failing_plugin_is_disabled_after_n_while_the_others_keep_receiving(caplog) -> None:
    good, watcher = Recorder(expect=10), Recorder()
    host, publisher = host_with({"good": good, "bad": Failing(), "watcher": watcher}, failure_limit=3)
    host.start()
    with caplog.at_level(logging.ERROR):
        for cycle in object_lists(10):  # a sensor pace the plugins keep up with: newest-wins sheds nothing
            host.dispatch(cycle)
            assert host.wait_idle(10)
    stats = host.stats()
    assert [o.t_event_ns for o in good.objects] == [c.t_event_ns for c in object_lists(10)]
    assert stats["bad"]["calls"] == 3 and stats["bad"]["errors"] == 3 and stats["bad"]["disabled"] is True
    assert stats["bad"]["status"].startswith("disabled: 3 consecutive failures")
    assert stats["good"]["errors"] == 0 and stats["good"]["calls"] == 10 + 1  # objects + the health event
    # each failure is logged against the plugin's name, on the plugin's logger
    failures = [r for r in caplog.records if r.name == "rsu.plugin.bad" and "failed in rsu_on_objects" in r.message]
    assert len(failures) == 3 and all(r.exc_info for r in failures)
    [health] = publisher.of("health")
    assert health.data["component"] == "plugin:bad" and health.data["status"] == "down"
    assert [(e.component, e.status) for e in watcher.health] == [("plugin:bad", "down")]
    host.stop()
    assert good.stopped_after == 10


def test_failures_must_be_consecutive_and_default_limit_is_five() -> None:
    class Flaky:
        n = 0

        @hookimpl
        def rsu_on_objects(self, objects):
            self.n += 1
            if self.n % 2:
                raise ValueError("odd cycle")

    config = parse_config({"site": SITE, "plugins": {"enabled": ["flaky", "bad"]}})
    host = PluginHost.from_config(config, publisher=RecordingPublisher(),
                                  extra_plugins=[("flaky", Flaky()), ("bad", Failing())])
    host.start()
    for cycle in object_lists(12):
        host.dispatch(cycle)
        assert host.wait_idle(10)
    stats = host.stats()
    assert stats["flaky"]["errors"] == 6 and not stats["flaky"]["disabled"]
    assert stats["bad"]["calls"] == 5 and stats["bad"]["disabled"]
    host.stop()


def test_blocked_plugin_does_not_delay_the_others_beyond_its_queue() -> None:
    slow, fast = Blocking(), Recorder(expect=50)
    host, _ = host_with({"slow": slow, "fast": fast}, queue_size=4, stop_timeout_s=5)
    host.start()
    cycles = object_lists(50)
    host.dispatch(cycles[0])
    assert slow.entered.wait(10)  # the slow plugin is now stuck inside its first call
    assert fast.wait_for(1)  # taken off its queue: the next of the same stream cannot supersede it
    queued = []
    for i, cycle in enumerate(cycles[1:], start=2):
        queued.append(host.dispatch(cycle))
        assert fast.wait_for(i), "the fast plugin must get every product while the slow one is stuck"
    assert slow.finished == 0
    stats = host.stats()
    # one stream (source "fusion"): only its newest waits; each newer one superseded the queued one, counted
    assert stats["slow"]["queue_depth"] == 1 and stats["slow"]["drops"] == stats["slow"]["superseded"] == 48
    assert stats["fast"]["drops"] == 0
    assert queued == [2] * 49  # never refused: a newer product replaces an older one
    slow.release.set()
    host.stop()
    assert slow.finished == 1 + 1 and host.stats()["slow"]["calls"] == 2


def test_sleeping_plugin_does_not_stall_dispatch_or_the_others() -> None:
    """The sleeper stays inside its first call until the test lets it go: had any ``dispatch`` waited for it,
    the loop below could not finish with the sleeper's count still 0 (its own wait ends after 120 s)."""

    class Sleeper:
        def __init__(self) -> None:
            self.done = 0
            self.entered = threading.Event()
            self.wake = threading.Event()

        @hookimpl
        def rsu_on_objects(self, objects):
            self.entered.set()
            self.wake.wait(120)
            self.done += 1

    sleeper, fast = Sleeper(), Recorder(expect=20)
    host, _ = host_with({"sleeper": sleeper, "fast": fast}, queue_size=2, stop_timeout_s=5)
    host.start()
    for i, cycle in enumerate(object_lists(20), start=1):
        host.dispatch(cycle)
        assert fast.wait_for(i)  # a sensor pace the fast plugin keeps up with
        if i == 1:
            assert sleeper.entered.wait(60)  # the sleeper is now inside its first call
    assert sleeper.done == 0, "every product reached the fast plugin before the sleeper finished one"
    sleeper.wake.set()
    host.stop()
    stats = host.stats()["sleeper"]
    assert stats["calls"] == sleeper.done and stats["calls"] + stats["drops"] == 20
    assert stats["calls"] == 1 + 1  # the one in progress plus the newest queued; the rest superseded, counted


def test_stop_drains_then_calls_on_stop_and_gives_up_at_the_deadline() -> None:
    stuck, rec = Blocking(), Recorder()
    host, _ = host_with({"stuck": stuck, "rec": rec}, queue_size=10, stop_timeout_s=0.3)
    host.start()
    for i, cycle in enumerate(object_lists(5), start=1):
        host.dispatch(cycle)
        assert rec.wait_for(i)
        if i == 1:
            assert stuck.entered.wait(10)  # stuck inside its first call from here on
    host.stop()
    assert stuck.finished == 0  # stop gave up at its deadline: it did not wait for the stuck call to end
    assert rec.stopped_after == 5  # drained before rsu_on_stop
    stats = host.stats()["stuck"]
    assert stats["lost_at_stop"] == 1 and stats["drops"] == 4  # the newest, left at the deadline; 3 superseded
    assert host.dispatch(object_lists(1)[0]) == 0  # stopped hosts accept nothing
    stuck.release.set()


def test_start_failure_disables_that_plugin_only() -> None:
    class BadStart:
        stopped = False

        @hookimpl
        def rsu_on_start(self, context):
            raise OSError("device missing")

        @hookimpl
        def rsu_on_objects(self, objects):
            raise AssertionError("must not be called")

        @hookimpl
        def rsu_on_stop(self):
            self.stopped = True

    bad, rec = BadStart(), Recorder(expect=1)
    host, publisher = host_with({"badstart": bad, "rec": rec})
    host.start()
    host.dispatch(make_object_list())
    assert host.wait_idle(10) and len(rec.objects) == 1
    assert host.stats()["badstart"]["disabled"] and "rsu_on_start failed" in host.stats()["badstart"]["status"]
    assert [e.component for e in rec.health] == ["plugin:badstart"]
    assert publisher.of("health")[0].data["component"] == "plugin:badstart"
    host.stop()
    assert not bad.stopped


def test_context_and_emit_reach_the_others_but_not_the_emitter(tmp_path: Path) -> None:
    class Raiser(Recorder):
        @hookimpl
        def rsu_on_start(self, context):
            self.context = context

        @hookimpl
        def rsu_on_objects(self, objects):
            self.context.emit(make_alarm(source=self.context.name, t_event_ns=objects.t_event_ns))

    raiser, rec = Raiser(), Recorder()
    config = parse_config({"site": SITE, "plugins": {"enabled": ["raiser", "rec"]}})
    routed: list = []
    host = PluginHost.from_config(config, publisher=RecordingPublisher(), state_root=tmp_path,
                                  extra_plugins=[("raiser", raiser), ("rec", rec)],
                                  emit_sink=lambda product, origin: routed.append((product, origin)))
    host.start()
    ctx = raiser.context
    assert (ctx.name, ctx.site.name, ctx.logger.name) == ("raiser", "test-site", "rsu.plugin.raiser")
    assert ctx.state_dir == tmp_path / "raiser" and ctx.state_dir.is_dir()
    host.dispatch(make_object_list())
    assert host.wait_idle(10)
    [(alarm, origin)] = routed  # the box publishes what plugins emit and dispatches it to the others
    assert origin == "plugin:raiser"
    assert host.dispatch(alarm, exclude="raiser") == 1
    assert host.wait_idle(10)
    assert rec.alarms == [alarm] and raiser.alarms == []
    host.stop()


def test_settings_are_validated_against_the_declared_schema_with_paths() -> None:
    class Zoned:
        @hookimpl
        def rsu_config_schema(self):
            return {"type": "object", "additionalProperties": False, "properties": {
                "threshold": {"type": "number", "minimum": 0},
                "zones": {"type": "array", "items": {"type": "object", "required": ["name", "kind"], "properties": {
                    "name": {"type": "string"}, "limit": {"type": "number"}}}}}}

    class NoSchema:
        @hookimpl
        def rsu_on_objects(self, objects):
            pass

    raw = {"site": SITE, "plugins": {
        "enabled": ["zoned", "plain"],
        "zoned": {"threshold": -1, "zones": [{"name": "a", "kind": "k"}, {"limit": "x"}], "colour": "red"},
        "plain": {"x": 1},
        "ghost": {"y": 2},
    }}
    config = parse_config(raw)
    extras = [("zoned", Zoned()), ("plain", NoSchema())]
    problems = check_plugins(config.plugins, extra_plugins=extras)
    assert "plugins.zoned.threshold: -1 is less than the minimum of 0" in problems
    assert "plugins.zoned.zones[1].name: required key is missing" in problems
    assert "plugins.zoned.zones[1].kind: required key is missing" in problems
    assert "plugins.zoned.zones[1].limit: 'x' is not of type 'number'" in problems
    assert "plugins.zoned.colour: unknown key" in problems
    assert any(p.startswith("plugins.plain: plugin 'plain' takes no settings") for p in problems)
    assert any(p.startswith("plugins.ghost: no plugin named 'ghost' is installed") for p in problems)
    assert len(problems) == 7, problems  # each problem once
    with pytest.raises(PluginLoadError) as info:
        PluginHost.from_config(config, publisher=RecordingPublisher(), extra_plugins=extras)
    assert info.value.problems == problems
    good = parse_config({"site": SITE, "plugins": {"enabled": ["zoned"], "zoned": {"threshold": 2.5}}})
    assert check_plugins(good.plugins, extra_plugins=extras) == []


def test_enabled_but_missing_or_broken_plugin_stops_start_up() -> None:
    class Misspelt:
        @hookimpl
        def rsu_on_object(self, objects):  # no such hook
            pass

    config = parse_config({"site": SITE, "plugins": {"enabled": ["ghost", "typo"]}})
    with pytest.raises(PluginLoadError) as info:
        PluginHost.from_config(config, publisher=RecordingPublisher(), extra_plugins=[("typo", Misspelt())])
    text = str(info.value)
    assert "plugins.enabled[0]: plugin 'ghost' is not installed (installed: " in text
    assert "typo" in text.split("(installed: ")[1].split(")")[0]
    assert "plugins.enabled[1]: plugin 'typo' failed to load: PluginValidationError" in text
    assert "rsu_on_object" in text


def test_rsu_check_reports_plugin_problems(tmp_path: Path) -> None:
    from rsu.cli import main

    cfg = tmp_path / "box.yaml"
    cfg.write_text("site: {name: test-site, lat: 48.0, lon: 11.0}\nplugins:\n  enabled: [nowhere]\n")
    result = CliRunner().invoke(main, ["check", str(cfg)])
    assert result.exit_code == 2
    assert "plugins.enabled[0]: plugin 'nowhere' is not installed" in result.output


def test_plugins_not_enabled_are_blocked_and_never_called() -> None:
    on, off = Recorder(expect=1), Recorder()
    loaded = create_plugin_manager(["on"], extra_plugins=[("on", on), ("off", off)])
    assert loaded.pm.is_blocked("off") and not loaded.pm.is_registered(off)
    assert (loaded.plugins["on"].status, loaded.plugins["off"].status) == ("loaded", "blocked")
    assert loaded.loaded() == ["on"]  # installed entry-point plugins are blocked too
    assert loaded.plugins["on"].hooks == ("rsu_on_alarm", "rsu_on_health", "rsu_on_objects", "rsu_on_stop")
    host = PluginHost(loaded, site=DEFAULT_SITE, publisher=RecordingPublisher())
    host.start()
    host.dispatch(make_object_list())
    host.dispatch(make_reading())  # nobody implements rsu_on_reading: queued for none
    assert host.wait_idle(10)
    host.stop()
    assert len(on.objects) == 1 and off.objects == [] and set(host.stats()) == {"on"}


