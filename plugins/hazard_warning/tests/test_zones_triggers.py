"""Zones and triggers: confirmation time, hysteresis, queues, lost tracks, per cause."""

from __future__ import annotations

import pytest
from hazard_helpers import ZONES, car, cycle, person

from rsu_hazard_warning.triggers import Debounce, HazardTracker, settings_from_config
from rsu_hazard_warning.zones import parse_zones

NS = 1_000_000_000


def tracker(**triggers: dict) -> HazardTracker:
    zones, problems = parse_zones(ZONES)
    assert problems == []
    return HazardTracker(zones, settings_from_config(triggers))


def run(tr: HazardTracker, cycles: list) -> list[tuple[float, str, str, int]]:
    out = []
    for ol in cycles:
        for t in tr.on_objects(ol):
            if t.kind != "update":
                out.append((round((t.t_ns - cycles[0].t_event_ns) / NS, 2), t.kind, t.state.cause, t.state.track_id))
    return out


def test_polygon_lane_queue_and_crossing_lookups() -> None:
    zones, _ = parse_zones(ZONES)
    assert zones.lane_at(30.0, -1.75).id == "east-out"
    assert zones.lane_at(30.0, 1.75).id == "east-in"
    assert zones.lane_at(30.0, 5.0) is None
    east_in = zones.lane_at(30.0, 1.75)
    assert east_in.in_queue(20.0, 1.75) and not east_in.in_queue(40.0, 1.75)  # downstream end is x = 8
    assert zones.in_crossing(11.0, 0.0) and zones.on_carriageway(11.0, 0.0)
    assert zones.on_carriageway(20.0, 0.5) and not zones.in_crossing(20.0, 0.5)


def test_bad_zones_are_named_by_key_path() -> None:
    _, problems = parse_zones([
        {"id": "a", "kind": "lane", "polygon": [[0, 0], [1, 0], [2, 0]]},
        {"id": "a", "kind": "crossing", "polygon": [[0, 0], [1, 0], [1, 1]], "heading_deg": 10},
    ])
    assert any(p.startswith("zones[0].polygon: has no area") for p in problems)
    assert any(p.startswith("zones[0].heading_deg") for p in problems)
    assert any(p.startswith("zones[1].id: 'a' is used twice") for p in problems)
    assert any(p.startswith("zones[1]: heading_deg and queue_m apply to lanes only") for p in problems)


def test_debounce_confirms_and_holds_through_noise() -> None:
    d = Debounce(1.0, 0.5)
    steps = [d.update(k * NS // 10, True, False) for k in range(10)]
    assert steps == [None] * 10 and not d.active            # 0.9 s of condition: not yet
    assert d.update(NS, True, False) == "raise"
    # release condition flickers (shorter than release_s): the event holds
    for k in range(11, 30):
        assert d.update(k * NS // 10, True, k % 3 == 0) is None
    assert [d.update(k * NS // 10, False, True) for k in range(30, 36)][-1] == "end"


def test_stationary_vehicle_raises_after_confirmation_and_ends_when_it_moves() -> None:
    tr = tracker()
    cycles = [cycle(k, car(1, 30.0, -1.75, ve=0.0 if 10 <= k < 60 else 8.0)) for k in range(80)]
    events = run(tr, cycles)
    assert events == [(3.0, "raise", "stationaryVehicle", 1), (6.8, "end", "stationaryVehicle", 1)]


def test_vehicles_queued_at_a_stop_line_or_behind_a_stopped_vehicle_raise_nothing() -> None:
    tr = tracker()
    # three cars standing in the queue area of east-in (within 20 m of its downstream end x = 8)
    queue = [cycle(k, car(1, 10.0, 1.75), car(2, 17.0, 1.75), car(3, 24.0, 1.75)) for k in range(50)]
    assert run(tr, queue) == []
    tr = tracker()
    # a stopped car on east-out and two queued behind it: only the head raises
    cars = [cycle(k, car(1, 40.0, -1.75), car(2, 33.0, -1.75), car(3, 26.5, -1.75)) for k in range(50)]
    assert run(tr, cars) == [(2.0, "raise", "stationaryVehicle", 1)]


def test_pedestrian_on_the_carriageway_outside_a_crossing() -> None:
    tr = tracker()
    # walks north across the road at x = 30 (no crossing): on the carriageway from y = -3.5 to 3.5
    walk = [cycle(k, person(7, 30.0, -6.0 + 0.12 * k)) for k in range(110)]
    events = run(tr, walk)
    assert [e[1:] for e in events] == [("raise", "humanPresenceOnTheRoad", 7), ("end", "humanPresenceOnTheRoad", 7)]
    (t_raise, *_), (t_end, *_) = events
    assert t_raise == pytest.approx((2.5 / 1.2) + 1.0, abs=0.15)   # enters at y = -3.5, confirmed 1 s later
    assert t_end == pytest.approx((9.5 / 1.2) + 1.0, abs=0.15)     # leaves at y = 3.5, released 1 s later
    tr = tracker()
    assert run(tr, [cycle(k, person(8, 11.0, -6.0 + 0.12 * k)) for k in range(110)]) == []  # in the crossing


def test_wrong_way_vehicle_and_a_right_way_one() -> None:
    tr = tracker()
    wrong = [cycle(k, car(3, 60.0 - 0.8 * k, -1.75, ve=-8.0)) for k in range(40)]   # westward on an eastward lane
    right = [cycle(k, car(4, 10.0 + 0.8 * k, -1.75, ve=8.0)) for k in range(40)]
    assert run(tr, wrong)[0] == (1.0, "raise", "wrongWayDriving", 3)
    assert run(tracker(), right) == []


def test_a_lost_track_ends_its_hazard_and_disabled_triggers_stay_silent() -> None:
    tr = tracker()
    cycles = [cycle(k, car(1, 30.0, -1.75)) for k in range(30)] + [cycle(k) for k in range(30, 60)]
    events = run(tr, cycles)
    assert events == [(2.0, "raise", "stationaryVehicle", 1), (4.9, "end", "stationaryVehicle", 1)]  # 2 s after
    tr = tracker(stationary_vehicle={"enabled": False})
    assert run(tr, [cycle(k, car(1, 30.0, -1.75)) for k in range(50)]) == []


def test_tentative_tracks_are_not_evaluated() -> None:
    tr = tracker()
    assert run(tr, [cycle(k, car(1, 30.0, -1.75, state="tentative")) for k in range(50)]) == []
