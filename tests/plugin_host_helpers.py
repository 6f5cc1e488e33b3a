"""Test doubles for the plugin host's tests: recording, failing and blocking plugins, and a host factory."""

from __future__ import annotations

import threading

from rsu_sdk import Alarm, HealthEvent, ObjectList, hookimpl
from rsu_sdk.testing import DEFAULT_SITE, RecordingPublisher, make_object_list

from rsu.plugins import PluginHost, create_plugin_manager

__all__ = ["Blocking", "Failing", "Recorder", "host_with", "object_lists"]


class Recorder:
    """Records every ObjectList; ``done`` is set once ``expect`` arrived."""

    def __init__(self, expect: int = 0) -> None:
        self.objects: list[ObjectList] = []
        self.health: list[HealthEvent] = []
        self.alarms: list[Alarm] = []
        self.expect = expect
        self.done = threading.Event()
        self.stopped_after: int | None = None
        self._cond = threading.Condition()

    @hookimpl
    def rsu_on_objects(self, objects: ObjectList) -> None:
        with self._cond:
            self.objects.append(objects)
            self._cond.notify_all()
        if len(self.objects) >= self.expect:
            self.done.set()

    def wait_for(self, n: int, timeout: float = 10.0) -> bool:
        """Wait until ``n`` object lists arrived (the pace of a sensor this plugin keeps up with)."""
        with self._cond:
            return self._cond.wait_for(lambda: len(self.objects) >= n, timeout)

    @hookimpl
    def rsu_on_health(self, event: HealthEvent) -> None:
        self.health.append(event)

    @hookimpl
    def rsu_on_alarm(self, alarm: Alarm) -> None:
        self.alarms.append(alarm)

    @hookimpl
    def rsu_on_stop(self) -> None:
        self.stopped_after = len(self.objects)


class Failing:
    """Raises on every product."""

    stopped = False

    @hookimpl
    def rsu_on_objects(self, objects: ObjectList) -> None:
        raise RuntimeError(f"broken on cycle at {objects.t_event_ns}")

    @hookimpl
    def rsu_on_stop(self) -> None:
        self.stopped = True


class Blocking:
    """Blocks in its first call until ``release`` is set."""

    def __init__(self) -> None:
        self.entered = threading.Event()
        self.release = threading.Event()
        self.finished = 0

    @hookimpl
    def rsu_on_objects(self, objects: ObjectList) -> None:
        self.entered.set()
        self.release.wait(120)
        self.finished += 1


def host_with(plugins: dict[str, object], **kwargs) -> tuple[PluginHost, RecordingPublisher]:
    loaded = create_plugin_manager(list(plugins), extra_plugins=list(plugins.items()))
    loaded.require_enabled()
    publisher = RecordingPublisher()
    return PluginHost(loaded, site=DEFAULT_SITE, publisher=publisher, **kwargs), publisher


def object_lists(n: int) -> list[ObjectList]:
    return [make_object_list(t_event_ns=1_700_000_000_000_000_000 + i) for i in range(n)]

