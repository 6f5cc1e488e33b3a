"""The spray rule on its own: thresholds, hysteresis, nearest sprayers, min on/off, budget, quiet hours, rain."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest
from rsu_sdk import PluginConfigError
from rsu_sdk.testing import make_reading

from rsu_dust_control import RuleEngine, parse_settings
from rsu_dust_control.rules import EngineState, nearest_sprayers

T0 = int(datetime(2024, 6, 1, 10, 0, tzinfo=timezone.utc).timestamp()) * 10**9
S = 10**9


def cfg(**extra):
    point = {"host": "127.0.0.1", "coil": 0}
    base = {
        "stations": [{"id": "aq-1", "position": [0, 0]}, {"id": "aq-2", "position": [100, 0]}],
        "sprayers": [{"id": "near-1", "position": [5, 0], "modbus": point},
                     {"id": "near-2", "position": [0, 8], "modbus": point},
                     {"id": "far", "position": [95, 0], "modbus": point}],
        "sprayers_per_station": 2, "min_on_s": 0, "min_off_s": 0,
    }
    return parse_settings({**base, **extra})


def reading(t_s: float, pm: float = 20.0, rh: float = 50.0, station: str = "aq-1"):
    return make_reading(values={"pm2_5": pm, "pm10": pm * 1.5, "humidity_pct": rh}, device=station,
                        source="air", t_event_ns=T0 + int(t_s * S))


def run(engine, *readings):
    return [(d.sprayer, d.action) for r in readings for d in engine.on_reading(r)]


def test_threshold_switches_the_nearest_sprayers_with_hysteresis():
    engine = RuleEngine(cfg())
    assert nearest_sprayers(engine.settings) == {"aq-1": ("near-1", "near-2"), "aq-2": ("far", "near-1")}
    assert run(engine, reading(0, 140)) == []  # below on threshold
    assert run(engine, reading(1, 151)) == [("near-1", "on"), ("near-2", "on")]
    assert run(engine, reading(2, 120)) == []  # between off and on: stays on (hysteresis)
    assert run(engine, reading(3, 151)) == []  # already on: no duplicate command
    assert run(engine, reading(4, 99)) == [("near-1", "off"), ("near-2", "off")]
    assert run(engine, reading(5, 120)) == []  # between: stays off


def test_only_known_stations_count_and_other_stations_drive_their_own_sprayers():
    engine = RuleEngine(cfg())
    assert run(engine, reading(0, 500, station="unknown")) == []
    assert engine.ignored == 1
    assert run(engine, reading(1, 300, station="aq-2")) == [("near-1", "on"), ("far", "on")]


def test_min_on_and_min_off_times():
    engine = RuleEngine(cfg(min_on_s=60, min_off_s=30))
    assert run(engine, reading(0, 200)) == [("near-1", "on"), ("near-2", "on")]
    assert run(engine, reading(10, 50)) == []  # wants off but has run only 10 s
    assert run(engine, reading(59, 50)) == []
    assert run(engine, reading(60, 50)) == [("near-1", "off"), ("near-2", "off")]
    assert run(engine, reading(70, 200)) == []  # off for only 10 s
    assert run(engine, reading(90, 200)) == [("near-1", "on"), ("near-2", "on")]


def test_daily_water_budget_stops_at_once_and_resets_next_day():
    # 2 sprayers x 10 l/min = 20 l/min; 100 l last 5 minutes.
    engine = RuleEngine(cfg(water_budget={"daily_litres": 100, "flow_lpm": 10}, min_on_s=60))
    assert run(engine, reading(0, 200)) == [("near-1", "on"), ("near-2", "on")]
    assert run(engine, reading(240, 200)) == []
    assert engine.state.used_litres == pytest.approx(80.0)
    assert run(engine, reading(300, 200)) == [("near-1", "off"), ("near-2", "off")]
    assert run(engine, reading(400, 200)) == []  # nothing left today
    next_day = 14 * 3600  # 10:00 + 14 h = 00:00 UTC next day
    assert run(engine, reading(next_day, 200)) == [("near-1", "on"), ("near-2", "on")]
    assert engine.state.used_litres == 0.0


def test_budget_must_cover_the_minimum_on_time_before_switching_on():
    engine = RuleEngine(cfg(water_budget={"daily_litres": 15, "flow_lpm": 10}, min_on_s=120))
    assert run(engine, reading(0, 200)) == []  # 20 l needed for 2 minutes, 15 l left


def test_quiet_hours_in_the_configured_time_zone():
    # 22:00-06:00 Berlin = 20:00-04:00 UTC in June.
    engine = RuleEngine(cfg(quiet_hours=[{"start": "22:00", "end": "06:00"}], timezone="Europe/Berlin"))
    evening = 10 * 3600  # 20:00 UTC = 22:00 local
    assert run(engine, reading(evening - 60, 200)) == [("near-1", "on"), ("near-2", "on")]
    assert run(engine, reading(evening, 200)) == [("near-1", "off"), ("near-2", "off")]
    assert run(engine, reading(evening + 3600, 400)) == []
    morning = 18 * 3600  # 04:00 UTC = 06:00 local
    assert run(engine, reading(morning, 400)) == [("near-1", "on"), ("near-2", "on")]


def test_rain_suppresses_spraying_with_its_own_hysteresis():
    engine = RuleEngine(cfg(rain_humidity_pct=90))
    assert run(engine, reading(0, 200, rh=95)) == []
    assert run(engine, reading(1, 200, rh=88)) == []  # within the 5 % hysteresis: still rain
    assert run(engine, reading(2, 200, rh=80)) == [("near-1", "on"), ("near-2", "on")]
    decisions = engine.on_reading(reading(3, 200, rh=92))
    assert [(d.sprayer, d.action) for d in decisions] == [("near-1", "off"), ("near-2", "off")]
    assert "rain at aq-1" in decisions[0].reason


def test_manual_override_forces_and_hold_issues_nothing():
    engine = RuleEngine(cfg(manual_override={"sprayers": {"far": "on", "near-2": "off"}}))
    assert run(engine, reading(0, 20)) == [("far", "on")]
    assert run(engine, reading(1, 300)) == [("near-1", "on")]  # near-2 held off by hand
    held = RuleEngine(cfg(manual_override={"mode": "hold"}))
    assert run(held, reading(0, 300)) == []
    coil_held = RuleEngine(cfg())
    assert coil_held.on_reading(reading(0, 300), hold=True) == []
    assert [d.action for d in coil_held.on_reading(reading(1, 300))] == ["on", "on"]


def test_deterministic_and_restorable_state():
    readings = [reading(t, pm) for t, pm in enumerate([20, 160, 170, 90, 155, 40, 300, 10])]
    a, b = RuleEngine(cfg(min_on_s=2, min_off_s=1)), RuleEngine(cfg(min_on_s=2, min_off_s=1))
    assert [d for r in readings for d in a.on_reading(r)] == [d for r in readings for d in b.on_reading(r)]
    restored = RuleEngine(cfg(min_on_s=2, min_off_s=1), EngineState.from_dict(a.state.as_dict()))
    assert restored.state == a.state
    assert run(restored, reading(100, 400)) == run(a, reading(100, 400))


def test_late_reading_does_not_move_time_backwards():
    engine = RuleEngine(cfg(min_on_s=60))
    run(engine, reading(100, 200))
    assert run(engine, reading(10, 20)) == []  # late: counted at t=100, min_on not yet over
    assert engine.state.clock_ns == T0 + 100 * S


def test_settings_problems_name_the_key():
    with pytest.raises(PluginConfigError) as err:
        cfg(pm2_5_on=100, pm2_5_off=120, timezone="Mars/Olympus",
            manual_override={"sprayers": {"ghost": "on"}})
    text = str(err.value)
    assert "pm2_5_off: must be below pm2_5_on" in text
    assert "timezone: unknown IANA time zone 'Mars/Olympus'" in text
    assert "manual_override.sprayers.ghost: no sprayer with that id" in text


def test_journal_survives_a_torn_line_and_forgets_nothing_pending(tmp_path):
    from rsu_sdk import ActuationCommand

    from rsu_dust_control.journal import Journal

    def cmd(i: int) -> ActuationCommand:
        return ActuationCommand(source="dc", t_event_ns=T0 + i, actuator="a", action="on", command_id=f"c{i}")

    j = Journal(tmp_path)
    assert j.add(cmd(1)) and j.add(cmd(2)) and not j.add(cmd(1))
    j.done("c1", ok=True, attempts=1)
    j.close()
    with (tmp_path / "outbox.jsonl").open("a") as fh:
        fh.write('{"op": "add", "cmd": {"command_')  # a crash in the middle of a write
    again = Journal(tmp_path)
    assert again.corrupt_lines == 1
    assert [c.command_id for c in again.pending()] == ["c2"]
    assert not again.add(cmd(1))  # remembered as done
    memory = Journal(None)
    assert memory.add(cmd(3)) and memory.next_for("a") == cmd(3)
