"""The box's lanes: safety first and never dropped, stale inputs shed newest-wins, back-pressure on sensors."""

from __future__ import annotations

import threading

import pytest
from rsu_sdk import Alarm, SensorReading

from rsu.app.testing import wait_for
from rsu.core.clock import ManualClock
from rsu.core.envelope import Envelope, Lane, lane_of
from rsu.core.lanes import InputPolicy, Lanes

T0 = 1_767_225_600_000_000_000


def reading(i: int, source: str = "plant", t_event_ns: int | None = None) -> SensorReading:
    return SensorReading(source=source, t_event_ns=T0 + i if t_event_ns is None else t_event_ns, device="d",
                         values={"x": float(i)})


def alarm(i: int) -> Alarm:
    return Alarm(source="plugin", t_event_ns=T0 + i, device="d", kind="fault", active=True)


def env(product, clock: ManualClock, origin: str = "source:plant") -> Envelope:  # noqa: ANN001
    return Envelope(product, origin, lane_of(product, origin), clock.monotonic_ns())


def test_safety_is_served_first_then_derived_then_sensor() -> None:
    clock = ManualClock()
    lanes = Lanes(clock=clock)
    lanes.put(env(reading(0), clock), "plant")
    lanes.put(env(reading(1), clock, origin="stage:detector"), "stage:detector")
    lanes.put(env(alarm(2), clock, origin="plugin:x"), "plugin:x")
    order = [lanes.take(0).lane for _ in range(3)]
    assert order == [Lane.SAFETY, Lane.DERIVED, Lane.SENSOR]
    assert lanes.take(0) is None


def test_inputs_older_than_their_maximum_age_are_shed_and_counted() -> None:
    clock = ManualClock()
    stale: list[float] = []
    lanes = Lanes(clock=clock, on_stale=lambda key, p: stale.append(p.values["x"]))
    lanes.set_policy("plant", InputPolicy(max_age_ns=100_000_000, capacity=100))
    for i in range(5):
        lanes.put(env(reading(i, t_event_ns=clock.wall_ns() + i), clock), "plant")
        clock.advance(0.04)  # 40 ms apart: when taken, inputs 0..2 are over 100 ms old
    clock.advance(0.0)
    got = lanes.take(0)
    assert got is not None and got.product.values["x"] == 3
    assert stale == [0, 1, 2]
    lanes.task_done()
    assert lanes.join(0.1) is False  # input 4 is still queued
    assert lanes.take(0).product.values["x"] == 4
    lanes.task_done()
    assert lanes.join(1.0)


def test_inputs_late_from_their_source_are_counted_late_not_shed() -> None:
    clock = ManualClock()
    stale: list[float] = []
    late: list[float] = []
    lanes = Lanes(clock=clock, on_stale=lambda key, p: stale.append(p.values["x"]),
                  on_late=lambda key, p: late.append(p.values["x"]))
    lanes.set_policy("plant", InputPolicy(max_age_ns=100_000_000, capacity=100, late_after_ns=100_000_000))
    lanes.put(env(reading(0, t_event_ns=clock.wall_ns() - 150_000_000), clock), "plant")  # a late source
    lanes.put(env(reading(1, t_event_ns=clock.wall_ns() - 50_000_000), clock), "plant")
    assert [lanes.take(0).product.values["x"] for _ in range(2)] == [0, 1]
    assert stale == [] and late == [0.0]


def test_safety_products_are_never_stale_and_never_dropped() -> None:
    clock = ManualClock()
    dropped: list = []
    lanes = Lanes(clock=clock, default_policy=InputPolicy(max_age_ns=1, capacity=1), on_drop=lambda k, p: dropped.append(p),
                  safety_high_water=100_000, safety_low_water=0)
    for i in range(10_000):
        assert lanes.put(env(alarm(i), clock, origin="plugin:x"), "plugin:x")
    clock.advance(60)
    got = [lanes.take(0).product.t_event_ns - T0 for _ in range(10_000)]
    assert got == list(range(10_000)) and not dropped


@pytest.mark.parametrize("policy,kept", [("drop_oldest", [2, 3, 4]), ("drop_newest", [0, 1, 2])])
def test_full_input_queue_drops_by_policy(policy: str, kept: list[int]) -> None:
    clock = ManualClock()
    dropped: list[int] = []
    lanes = Lanes(clock=clock, default_policy=InputPolicy(None, 3, policy),  # type: ignore[arg-type]
                  on_drop=lambda key, p: dropped.append(p.t_event_ns - T0))
    for i in range(5):
        lanes.put(env(reading(i), clock), "plant")
    assert [e.product.t_event_ns - T0 for e in lanes.pending()] == kept
    assert len(dropped) == 2


def test_a_blocking_queue_waits_for_room_instead_of_dropping() -> None:
    clock = ManualClock()
    lanes = Lanes(clock=clock, default_policy=InputPolicy(None, 2, "block"))
    lanes.put(env(reading(0), clock), "rec")
    lanes.put(env(reading(1), clock), "rec")
    done = threading.Event()

    def producer() -> None:
        lanes.put(env(reading(2), clock), "rec")
        done.set()

    t = threading.Thread(target=producer, daemon=True)
    t.start()
    assert not done.wait(0.2)  # blocked: the queue is full
    assert lanes.take(0).product.t_event_ns - T0 == 0
    assert done.wait(10)
    assert [e.product.t_event_ns - T0 for e in lanes.pending()] == [1, 2]


def test_sensors_wait_while_the_safety_lane_is_over_its_high_water_mark() -> None:
    clock = ManualClock()
    lanes = Lanes(clock=clock, safety_high_water=3, safety_low_water=1)
    for i in range(4):
        lanes.put(env(alarm(i), clock, origin="plugin:x"), "plugin:x")
    done = threading.Event()
    t = threading.Thread(target=lambda: (lanes.put(env(reading(9), clock), "plant"), done.set()), daemon=True)
    t.start()
    wait_for(lambda: lanes.stats()["backpressure_waits"] == 1, 60, "the sensor waiting for the safety lane")
    assert not done.is_set()  # back-pressure on the sensor, not on the alarms
    for _ in range(3):
        assert lanes.take(0).lane is Lane.SAFETY
    assert done.wait(10) and lanes.stats()["backpressure_waits"] == 1


def test_policy_rejects_nonsense() -> None:
    with pytest.raises(ValueError, match="capacity"):
        InputPolicy(None, 0)
    with pytest.raises(ValueError, match="when_full"):
        InputPolicy(None, 1, "sometimes")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="late_after_ns"):
        InputPolicy(None, 1, late_after_ns=-1)
