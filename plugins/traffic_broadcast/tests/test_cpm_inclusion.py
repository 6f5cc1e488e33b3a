"""Object inclusion rules, generation interval and splitting (TS 103 324 v2.1.1 clause 6.1)."""

from __future__ import annotations

import math

import pytest
from cpm_helpers import DEFAULT_SITE, T0_NS, objects
from rsu_sdk import ObjectList
from rsu_sdk.testing import make_fused_object

from rsu_traffic_broadcast import codec
from rsu_traffic_broadcast.cpm_builder import Station
from rsu_traffic_broadcast.generator import CpmGenerator
from rsu_traffic_broadcast.inclusion import (
    GenerationClock,
    ObjectSelector,
    RatePolicy,
    heading_change,
    split_segments,
)

MS = 1_000_000
STATION = Station(station_id=5, site=DEFAULT_SITE)


def _car(**fields):  # noqa: ANN003, ANN202
    base = {"position_enu": (0.0, 0.0, 0.0), "velocity_enu": (10.0, 0.0), "heading_deg": 90.0}
    return make_fused_object(7, **{**base, **fields})


@pytest.mark.parametrize(("change", "included", "reason"), [
    ({}, False, None),
    ({"position_enu": (4.1, 0.0, 0.0)}, True, "moved"),
    ({"position_enu": (3.9, 0.0, 0.0)}, False, None),
    ({"position_enu": (2.9, 2.9, 0.0)}, True, "moved"),           # 4.1 m diagonally
    ({"velocity_enu": (10.6, 0.0)}, True, "speed"),
    ({"velocity_enu": (9.45, 0.0)}, True, "speed"),
    ({"velocity_enu": (10.4, 0.0)}, False, None),
    ({"heading_deg": 94.5}, True, "heading"),
    ({"heading_deg": 86.5}, False, None),
    ({"heading_deg": 85.5}, True, "heading"),
])
def test_inclusion_rules(change: dict, included: bool, reason: str | None) -> None:
    selector = ObjectSelector()
    first = _car()
    assert selector.reason(first, T0_NS) == "new"
    assert selector.select([first], T0_NS) == [first]
    selector.mark_sent([first], T0_NS)
    later = _car(**change)
    t = T0_NS + 300 * MS
    assert selector.reason(later, t) == reason
    assert (selector.select([later], t) == [later]) is included


def test_refresh_after_one_second_and_forgetting() -> None:
    selector = ObjectSelector()
    car = _car()
    selector.mark_sent([car], T0_NS)
    assert selector.select([car], T0_NS + 999 * MS) == []
    assert selector.reason(car, T0_NS + 1000 * MS) == "refresh"
    selector.select([], T0_NS + 1100 * MS)             # the track is gone ...
    assert len(selector) == 0
    assert selector.reason(car, T0_NS + 1200 * MS) == "new"   # ... and new when it comes back


def test_heading_change_wraps_around_north() -> None:
    assert heading_change(359.0, 3.5) == pytest.approx(4.5)
    assert heading_change(2.0, 358.5) == pytest.approx(3.5)
    assert heading_change(math.nan, 10.0) == 0.0


def test_new_objects_come_first_then_the_longest_unsent() -> None:
    selector = ObjectSelector()
    a, b, c = (make_fused_object(i, position_enu=(i * 10.0, 0.0, 0.0)) for i in (1, 2, 3))
    selector.mark_sent([a], T0_NS)
    selector.mark_sent([b], T0_NS + 200 * MS)
    t = T0_NS + 1300 * MS
    assert [o.track_id for o in selector.select([b, a, c], t)] == [3, 1, 2]


@pytest.mark.parametrize(("busy", "quiet", "n", "interval_ms"), [
    (10, 5, 5, 100), (10, 5, 4, 200), (20, 5, 9, 100), (10, 0.5, 0, 1000), (2, 1, 0, 1000), (4, 1, 7, 250),
])
def test_interval_follows_the_adaptive_rate_within_100ms_and_1s(busy, quiet, n, interval_ms) -> None:  # noqa: ANN001
    assert RatePolicy(busy_hz=busy, quiet_hz=quiet, busy_threshold=5).interval_ns(n) == interval_ms * MS


def test_clock_never_fires_faster_than_100ms_even_with_jitter() -> None:
    clock = GenerationClock(RatePolicy(busy_hz=10, quiet_hz=10, jitter_ns=5 * MS))
    clock.generated(T0_NS)
    assert not clock.due(T0_NS + 99 * MS, 10)
    assert clock.due(T0_NS + 100 * MS, 10)
    slow = GenerationClock(RatePolicy(busy_hz=5, quiet_hz=5, jitter_ns=5 * MS))
    slow.generated(T0_NS)
    assert not slow.due(T0_NS + 194 * MS, 1) and slow.due(T0_NS + 195 * MS, 1)


def _moving(n: int, k: int) -> list:
    """Objects driving fast enough to be due at every event (5 m per 100 ms)."""
    return [make_fused_object(i + 1, position_enu=(5.0 * k + 3.0 * i, 2.0 * i, 0.0), velocity_enu=(50.0, 0.0))
            for i in range(n)]


@pytest.mark.parametrize(("n", "expected_ms"), [(8, 100), (2, 200)])
def test_generation_events_follow_busy_and_quiet_rates(n: int, expected_ms: int) -> None:
    gen = CpmGenerator(STATION)
    times = []
    for k in range(300):                                # 3 s of fusion cycles every 10 ms
        t = T0_NS + k * 10 * MS
        if gen.on_objects(ObjectList(source="fusion", t_event_ns=t, objects=tuple(_moving(n, k)))):
            times.append(t)
    gaps = {(b - a) // MS for a, b in zip(times, times[1:])}
    assert gaps == {expected_ms}


def test_standing_objects_are_refreshed_once_per_second() -> None:
    gen = CpmGenerator(STATION)
    still = tuple(objects(3))
    sent_at = []
    for k in range(26):                                 # 2.5 s, every 100 ms
        t = T0_NS + k * 100 * MS
        for m in gen.on_objects(ObjectList(source="fusion", t_event_ns=t, objects=still)):
            sent_at.append((k, m.objects))
    assert sent_at == [(0, (1000, 1001, 1002)), (10, (1000, 1001, 1002)), (20, (1000, 1001, 1002))]


def test_only_changed_objects_are_included_and_tentative_tracks_wait() -> None:
    gen = CpmGenerator(STATION)
    a = make_fused_object(1, position_enu=(0.0, 0.0, 0.0))
    b = make_fused_object(2, position_enu=(30.0, 0.0, 0.0))
    tentative = make_fused_object(3, state="tentative")
    first = gen.on_objects(ObjectList(source="f", t_event_ns=T0_NS, objects=(a, b, tentative)))
    assert [m.objects for m in first] == [(1, 2)]
    moved = make_fused_object(2, position_enu=(35.0, 0.0, 0.0))
    second = gen.on_objects(ObjectList(source="f", t_event_ns=T0_NS + 300 * MS, objects=(a, moved, tentative)))
    assert [m.objects for m in second] == [(2,)]
    with_tentative = CpmGenerator(STATION, include_tentative=True)
    assert with_tentative.on_objects(ObjectList(source="f", t_event_ns=T0_NS, objects=(tentative,)))[0].objects == (3,)


def test_empty_scene_sends_a_keep_alive_with_zero_objects_each_second() -> None:
    gen = CpmGenerator(STATION)
    out = [(k, m) for k in range(21) for m in gen.on_objects(
        ObjectList(source="f", t_event_ns=T0_NS + k * 100 * MS, objects=()))]
    assert [k for k, _ in out] == [0, 10, 20]
    container = codec.decode(out[0][1].body)["payload"]["cpmContainers"][-1]
    assert container["containerData"]["numberOfPerceivedObjects"] == 0


def test_split_segments_with_a_known_size_function() -> None:
    def size(a: int, b: int) -> int:                    # 40 bytes of headers, 30 more on the first, 25 per item
        return 40 + (30 if a == 0 else 0) + 25 * (b - a)

    ranges = split_segments(20, size, max_bytes=200)
    assert ranges == [(0, 5), (5, 11), (11, 17), (17, 20)]
    assert all(size(a, b) <= 200 for a, b in ranges)
    assert split_segments(5, size, max_bytes=1000) == [(0, 5)]
    assert split_segments(100, size, max_bytes=100) == [(0, 1)] + [(i, i + 2) for i in range(1, 15, 2)]  # max 8
    assert split_segments(3, size, max_bytes=10) == [(0, 1), (1, 2), (2, 3)]            # oversize singles


def test_split_cpms_respect_the_size_limit_and_carry_every_object_once() -> None:
    gen = CpmGenerator(STATION, max_bytes=1100)
    msgs = gen.on_objects(ObjectList(source="fusion", t_event_ns=T0_NS, objects=tuple(objects(100))))
    assert len(msgs) >= 3
    assert all(len(m.body) <= 1100 for m in msgs)
    assert [m.segment for m in msgs] == [(i + 1, len(msgs)) for i in range(len(msgs))]
    ids = [i for m in msgs for i in m.objects]
    assert sorted(ids) == list(range(1000, 1100))
    assert [m.sensor_information for m in msgs] == [True] + [False] * (len(msgs) - 1)
    full = sum(len(m.objects) for m in msgs[:-1]) / (len(msgs) - 1)
    assert full >= 25                                  # segments are filled, not one object each
    for m in msgs:
        decoded = codec.decode(m.body)
        assert decoded["payload"]["managementContainer"]["segmentationInfo"]["totalMsgNo"] == len(msgs)


def test_objects_beyond_eight_segments_wait_for_the_next_event() -> None:
    gen = CpmGenerator(STATION, max_bytes=200)
    objs = tuple(objects(60))
    first = gen.on_objects(ObjectList(source="fusion", t_event_ns=T0_NS, objects=objs))
    assert len(first) == 8 and all(len(m.body) <= 200 for m in first)
    sent = {i for m in first for i in m.objects}
    assert gen.counts["deferred"] == 60 - len(sent) > 0
    second = gen.on_objects(ObjectList(source="fusion", t_event_ns=T0_NS + 200 * MS, objects=objs))
    again = [i for m in second for i in m.objects]
    deferred = [o.track_id for o in objs if o.track_id not in sent]
    assert again == deferred[: len(again)] and again     # only the deferred ones are due now, in order
