"""Event time done once: one watermark per source, the minimum over the active ones, idle sources excluded."""

from __future__ import annotations

from rsu_sdk import RadarScan, SensorReading

from rsu.pipeline.embedded import EmbeddedRunner
from rsu.pipeline.operators import Operator
from rsu.pipeline.watermarks import MIN_WATERMARK, SourceWatermarks

T0 = 1_767_225_600_000_000_000
MS = 1_000_000


class Clock:
    def __init__(self) -> None:
        self.now = 0

    def __call__(self) -> int:
        return self.now


def test_the_watermark_is_the_minimum_over_sources() -> None:
    clock = Clock()
    wm = SourceWatermarks(100 * MS, 2_000 * MS, clock=clock, warmup_ns=2_000 * MS)
    wm.on_event(T0 + 10_000 * MS, "plant")  # a replay 20x ahead
    assert wm.watermark == MIN_WATERMARK  # warming up: other sources may still show up
    clock.now = 2_000 * MS
    wm.on_event(T0 + 10_000 * MS, "plant")
    assert wm.watermark == T0 + 9_900 * MS - 1
    wm.on_event(T0, "radar")  # a real-time source holds it back: never moves back, but stops advancing
    assert wm.watermark == T0 + 9_900 * MS - 1
    assert not wm.is_late(T0 + 9_950 * MS)


def test_a_fast_replay_beside_a_real_time_source_makes_nothing_late() -> None:
    clock = Clock()
    wm = SourceWatermarks(200 * MS, 2_000 * MS, clock=clock, warmup_ns=2_000 * MS)
    late = 0
    for step in range(200):  # 10 s of processing time, 50 ms steps
        clock.now = step * 50 * MS
        for k in range(20):  # the plant replay: 20 readings per step, 50 ms of event time each (20x)
            wm.on_event(T0 + (step * 20 + k) * 50 * MS, "plant")
        t_radar = T0 + step * 50 * MS
        late += wm.is_late(t_radar)
        wm.on_event(t_radar, "radar")
    assert late == 0


def test_an_idle_source_stops_holding_the_watermark_back_and_counts_again_when_it_resumes() -> None:
    clock = Clock()
    wm = SourceWatermarks(0, 1_000 * MS, clock=clock)
    wm.on_event(T0, "a")
    wm.on_event(T0, "b")
    clock.now = 1_000 * MS
    wm.on_event(T0, "b")
    clock.now = 1_500 * MS
    wm.on_event(T0 + 5_000 * MS, "a")
    assert wm.watermark == T0 - 1  # b is not idle yet
    clock.now = 2_100 * MS  # b silent for 1.1 s
    wm.on_event(T0 + 6_000 * MS, "a")
    assert wm.watermark == T0 + 6_000 * MS - 1
    wm.on_event(T0 + 6_500 * MS, "b")  # b is back: the watermark waits for it again (never moves back)
    clock.now = 2_200 * MS
    wm.on_event(T0 + 9_000 * MS, "a")
    assert wm.watermark == T0 + 6_500 * MS - 1


def test_activity_comes_from_where_inputs_arrive_not_from_the_runner() -> None:
    clock = Clock()
    last_put = {"a": 0, "b": 0}
    wm = SourceWatermarks(0, 1_000 * MS, activity=last_put.get, clock=clock)
    wm.on_event(T0, "a")
    wm.on_event(T0, "b")
    clock.now = 1_000 * MS
    last_put["b"] = 1_000 * MS
    wm.on_event(T0, "b")
    clock.now = 5_000 * MS  # the router was stuck for 5 s, but b kept sending meanwhile
    last_put["b"] = 4_900 * MS
    wm.on_event(T0 + 9_000 * MS, "a")
    assert wm.watermark == T0 - 1


class Count(Operator):
    name = "count"
    handles = (SensorReading, RadarScan)

    def process(self, element, ctx):  # noqa: ANN001, ANN201
        return ()


def test_embedded_runner_counts_no_late_fusion_inputs_beside_a_20x_replay() -> None:
    runner = EmbeddedRunner([Count()], out_of_orderness_ms=200, activity=lambda source: 0)
    elements = []
    for step in range(100):
        for k in range(20):
            elements.append(SensorReading(source="plant", t_event_ns=T0 + (step * 20 + k) * 50 * MS, device="f",
                                          values={}))
        elements.append(RadarScan(source="radar", t_event_ns=T0 + step * 50 * MS, cycle=step))
    runner.run(elements)
    assert runner.counts["count"]["late"] == 0
