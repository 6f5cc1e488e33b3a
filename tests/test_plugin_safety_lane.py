"""Plugin queues by priority (issue 23): a stalled plugin loses no safety product and never stops the sensor loop.

Every test drives the real :class:`~rsu.plugins.host.PluginHost` with plugins registered through pluggy. The
stall is an Event the plugin blocks on; its duration is an injected clock; nothing waits on wall time.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

from plugin_host_helpers import Recorder, host_with
from rsu_sdk import Alarm, SensorReading, hookimpl
from rsu_sdk.testing import make_alarm, make_reading

from rsu.app.box_health import box_components

T0 = 1_767_225_600_000_000_000


class Clock:
    """The workers' monotonic clock, moved by the test."""

    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


class Stalling:
    """Blocks inside its first reading until ``resume`` is set; logs every reading and alarm in call order."""

    def __init__(self) -> None:
        self.entered = threading.Event()
        self.resume = threading.Event()
        self.log: list[tuple[str, Any]] = []

    @hookimpl
    def rsu_on_reading(self, reading: SensorReading) -> None:
        if not self.entered.is_set():
            self.entered.set()
            self.resume.wait(300)
        self.log.append(("reading", reading))

    @hookimpl
    def rsu_on_alarm(self, alarm: Alarm) -> None:
        self.log.append(("alarm", alarm))


def wait_until(condition: Callable[[], bool], timeout: float = 60.0) -> bool:
    """Wait for ``condition`` (a safety net for a hang, not a timing assertion)."""
    deadline = time.monotonic() + timeout
    pause = threading.Event()
    while not condition():
        if time.monotonic() > deadline:
            return False
        pause.wait(0.005)
    return True


def heartbeat_row(host: Any, name: str) -> tuple[str, str, dict[str, Any]]:
    """``(status, message, details)`` of plugin ``name`` in the box's heartbeat, for a box with no sources."""
    summary = {"drops": {}, "stale": {}, "late_events": {}, "latency_event_to_publish": {}}
    box = SimpleNamespace(sources=[], source_services=[], router_alive=lambda: True,
                          stats=SimpleNamespace(stale={}, summary=lambda: summary),
                          lanes=SimpleNamespace(stats=lambda: {}))
    rows = {row[1]: row for row in box_components(box, host)}  # type: ignore[arg-type]
    _, _, status, message, details = rows[f"plugin:{name}"]
    return status, message, details


def reading(i: int) -> SensorReading:
    return make_reading(device=f"dev-{i % 4}", t_event_ns=T0 + i * 1_000_000, values={"temp": float(i)})


def test_a_stalled_plugin_gets_every_alarm_in_order_while_sensor_products_are_shed() -> None:
    """5 s of stall (injected clock) while 1,000 alarms and 5,000 readings (1 kHz, four devices) arrive."""
    stalled, watcher, clock = Stalling(), Recorder(), Clock()
    host, _ = host_with({"stalled": stalled, "watcher": watcher}, stall_after_s=3.0, clock=clock)
    host.start()
    host.dispatch(make_reading(device="dev-0", t_event_ns=T0 - 1))
    assert stalled.entered.wait(60)  # the plugin is stuck inside its first call from here on
    alarms = [make_alarm(device=f"dev-{k % 4}", message=str(k), t_event_ns=T0 + k) for k in range(1000)]
    fed = threading.Event()

    def sensor_loop() -> None:  # the router thread's part: dispatch at full rate
        for i in range(5000):
            host.dispatch(reading(i))
            clock.t += 0.001
            if i % 5 == 4:
                host.dispatch(alarms[i // 5])
        fed.set()

    threading.Thread(target=sensor_loop, name="sensor-loop", daemon=True).start()
    assert fed.wait(120), "the sensor loop must not wait for a stalled plugin"
    assert not stalled.resume.is_set() and stalled.log == []  # it finished while the plugin was still stuck
    assert wait_until(lambda: len(watcher.alarms) == 1000)  # the other plugin was not held up either
    stats = host.stats()["stalled"]
    assert stats["status"] == "stalled" and stats["stalls"] == 1
    assert stats["safety_queued"] == stats["safety_total"] == 1000 and stats["safety_waits"] == stats["waiting"] == 0
    assert stats["queue_depth"] == 1000 + 4  # every alarm, and the newest reading of each device
    assert stats["shed"] == stats["superseded"] == stats["drops"] == 5000 - 4
    status, message, details = heartbeat_row(host, "stalled")
    assert (status, message) == ("degraded", "stalled")
    assert details["safety_queued"] == 1000 and details["shed"] == 4996 and details["waiting"] == 0

    stalled.resume.set()
    assert host.wait_idle(60)
    kinds = [kind for kind, _ in stalled.log]
    assert kinds == ["reading"] + ["alarm"] * 1000 + ["reading"] * 4  # safety first, each lane in its order
    assert [a for _, a in stalled.log[1:1001]] == alarms  # every alarm, in order
    newest = {r.device: r.values["temp"] for _, r in stalled.log[1001:]}
    assert newest == {"dev-0": 4996.0, "dev-1": 4997.0, "dev-2": 4998.0, "dev-3": 4999.0}
    stats = host.stats()["stalled"]
    assert stats["status"] == "running" and stats["calls"] == 1 + 1000 + 4 and stats["drops"] == 4996
    host.stop()


def test_a_full_safety_queue_makes_the_caller_wait_counted_and_drops_nothing() -> None:
    stalled, clock = Stalling(), Clock()
    host, _ = host_with({"stalled": stalled}, safety_queue_size=10, stall_after_s=3.0, clock=clock)
    host.start()
    host.dispatch(reading(0))
    assert stalled.entered.wait(60)
    alarms = [make_alarm(message=str(k), t_event_ns=T0 + k) for k in range(15)]
    fed = threading.Event()

    def sensor_loop() -> None:
        for alarm in alarms:
            host.dispatch(alarm)
        fed.set()

    threading.Thread(target=sensor_loop, name="sensor-loop", daemon=True).start()
    assert wait_until(lambda: host.stats()["stalled"]["waiting"] == 1)  # back-pressure, shown while it waits
    assert not fed.is_set()
    stats = host.stats()["stalled"]
    assert stats["safety_queued"] == 10 and stats["safety_waits"] == 1 and stats["drops"] == 0
    clock.t += 3.0
    status, message, details = heartbeat_row(host, "stalled")
    assert (status, message, details["waiting"], details["safety_waits"]) == ("degraded", "stalled", 1, 1)

    stalled.resume.set()
    assert fed.wait(60) and host.wait_idle(60)
    assert [a for kind, a in stalled.log if kind == "alarm"] == alarms
    stats = host.stats()["stalled"]
    assert stats["drops"] == 0 and stats["waiting"] == 0 and stats["safety_total"] == 15
    assert stats["safety_max_depth"] == 10
    host.stop()


def test_newest_wins_sheds_the_oldest_stream_at_the_bound_and_can_be_turned_off() -> None:
    stalled = Stalling()
    host, _ = host_with({"stalled": stalled}, queue_size=3)
    host.start()
    host.dispatch(reading(0))
    assert stalled.entered.wait(60)
    for d in range(5):  # five devices, one stream each: the bound sheds the two oldest streams
        host.dispatch(make_reading(device=f"d{d}", t_event_ns=T0 + d))
    stats = host.stats()["stalled"]
    assert (stats["queue_depth"], stats["shed"], stats["superseded"]) == (3, 2, 0)
    stalled.resume.set()
    assert host.wait_idle(60)
    assert [r.device for _, r in stalled.log[1:]] == ["d2", "d3", "d4"]
    host.stop()

    stalled = Stalling()
    host, _ = host_with({"stalled": stalled}, queue_size=10, newest_wins=False)
    host.start()
    host.dispatch(reading(0))
    assert stalled.entered.wait(60)
    for i in range(1, 31):  # one device: every reading is queued, the oldest shed beyond the bound
        host.dispatch(make_reading(device="dev-0", t_event_ns=T0 + i, values={"temp": float(i)}))
    stats = host.stats()["stalled"]
    assert (stats["queue_depth"], stats["shed"], stats["superseded"]) == (10, 20, 0)
    stalled.resume.set()
    assert host.wait_idle(60)
    assert [r.values["temp"] for _, r in stalled.log[1:]] == [float(i) for i in range(21, 31)]
    host.stop()


def test_stop_counts_safety_products_left_at_the_deadline_and_releases_a_waiting_caller() -> None:
    stalled = Stalling()
    host, _ = host_with({"stalled": stalled}, safety_queue_size=2, stop_timeout_s=0.2)
    host.start()
    host.dispatch(reading(0))
    assert stalled.entered.wait(60)
    done = threading.Event()
    threading.Thread(target=lambda: (host.dispatch(make_alarm(message="a")), host.dispatch(make_alarm(message="b")),
                                     host.dispatch(make_alarm(message="c")), done.set()), daemon=True).start()
    assert wait_until(lambda: host.stats()["stalled"]["waiting"] == 1)
    host.stop()  # the plugin is still stuck at the deadline
    assert done.wait(60), "stop must release a caller waiting for room"
    stats = host.stats()["stalled"]
    assert stats["lost_at_stop"] == stats["drops"] == 3 and stats["queue_depth"] == 0  # 2 queued + 1 waiting
    stalled.resume.set()
