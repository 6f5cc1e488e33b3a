"""Actuation against a real pymodbus TCP server on loopback: confirm, retry, restart, alarm, exactly once."""

from __future__ import annotations

from dust_helpers import BlackHole, Harness, SprayerServer, free_port, sprayer_config, wait_for
from rsu_sdk import ActuationCommand, ActuationOutcome, Alarm
from rsu_sdk.testing import T0_NS, make_reading, run_plugin

from rsu_dust_control import DustControl

S = 10**9


def reading(t_s: float, pm: float):
    return make_reading(values={"pm2_5": pm, "humidity_pct": 40.0}, device="aq-1", source="air",
                        t_event_ns=T0_NS + int(t_s * S))


def command(i: int, actuator: str, action: str) -> ActuationCommand:
    return ActuationCommand(source="dust_control", t_event_ns=T0_NS + i, actuator=actuator, action=action,
                            command_id=f"test-{i}", reason="test")


def outcomes(h: Harness) -> list[ActuationOutcome]:
    return [p for p in h.emitted if isinstance(p, ActuationOutcome)]


def test_reading_over_threshold_switches_and_confirms_by_read_back(sprayer_server: SprayerServer):
    run = run_plugin(DustControl(), [reading(0, 40), reading(1, 180)], name="dust_control",
                     config=sprayer_config(sprayer_server.port))
    # run_plugin stops the plugin, and stop waits for pending commands: both are confirmed by now.
    assert sprayer_server.coils[:2] == [True, True]
    assert sorted(sprayer_server.writes) == [(0, True), (1, True)]  # two actuators, two threads
    msgs = run.messages("actuation")
    cmds = [m for m in msgs if m.schema == "rsu.actuation.command/1"]
    assert [(m.source, m.data["action"]) for m in cmds] == [("spr-0", "on"), ("spr-1", "on")]
    assert "pm2_5 180.0" in cmds[0].data["reason"]
    done = [m for m in msgs if m.schema == "rsu.actuation.outcome/1"]
    assert sorted((m.source, m.data["ok"]) for m in done) == [("spr-0", True), ("spr-1", True)]
    assert {m.data["command"]["command_id"] for m in done} == {m.data["command_id"] for m in cmds}
    assert [type(p) for p in run.emitted].count(ActuationCommand) == 2
    assert all(p.ok for p in run.emitted_of(ActuationOutcome)) and len(run.emitted_of(ActuationOutcome)) == 2
    # what it emitted is what the host publishes: every message is one emitted product, on its actuator's topic
    assert len(run.published) == len(run.emitted)
    assert {m.topic for m in msgs} == {"rsu/test-site/actuation/spr-0", "rsu/test-site/actuation/spr-1"}


def test_commands_other_plugins_emit_are_executed_once(sprayer_server: SprayerServer):
    mine = command(1, "spr-0", "on")
    other = command(2, "far-away", "on")  # not one of this plugin's actuators: ignored
    run = run_plugin(DustControl(), [mine, other, mine], name="dust_control",
                     config=sprayer_config(sprayer_server.port, n=1))
    assert sprayer_server.writes == [(0, True)]
    assert [o.command for o in run.emitted_of(ActuationOutcome)] == [mine]
    assert run.emitted_of(ActuationCommand) == []  # the emitter published it already; not announced again
    assert run.plugin.counts["commands"] == 1 and run.plugin.counts["duplicates"] == 1


def test_read_back_register_must_confirm(sprayer_server: SprayerServer):
    sprayer_server.stuck.add(0)  # the pump behind coil 0 does not start
    h = Harness(sprayer_config(sprayer_server.port, n=1))
    h.plugin.submit(command(1, "spr-0", "on"))
    wait_for(lambda: any(isinstance(p, Alarm) for p in h.emitted), 30, "unconfirmed-actuator alarm")
    assert outcomes(h) == []
    assert sprayer_server.writes == [(0, True)]  # coil already on: retries read, never write again
    sprayer_server.stuck.clear()
    wait_for(lambda: len(outcomes(h)) == 1, 30, "confirmation")
    alarms = [p for p in h.emitted if isinstance(p, Alarm)]
    assert [(a.kind, a.active) for a in alarms] == [("actuator_unreachable", True), ("actuator_unreachable", False)]
    assert "read-back did not confirm on" in alarms[0].message
    assert outcomes(h)[0].attempts >= 3
    h.stop()
    assert sprayer_server.writes == [(0, True)]


def test_lost_write_response_is_not_written_twice(sprayer_server: SprayerServer):
    sprayer_server.drop_write_responses = 1  # the write is applied, its answer never arrives
    h = Harness(sprayer_config(sprayer_server.port, n=1))
    h.plugin.submit(command(1, "spr-0", "on"))
    wait_for(lambda: len(outcomes(h)) == 1, 30, "confirmation")
    h.stop()
    assert sprayer_server.writes == [(0, True)]
    assert outcomes(h)[0].attempts == 2
    assert h.plugin.workers["spr-0"].stats["skipped_writes"] == 1


def test_actuator_restart_mid_sequence_every_command_once_in_order(sprayer_server: SprayerServer):
    h = Harness(sprayer_config(sprayer_server.port, n=2))
    seq = [command(i, f"spr-{i % 2}", "on" if (i // 2) % 2 == 0 else "off") for i in range(12)]
    for cmd in seq[:4]:
        h.plugin.submit(cmd)
    wait_for(lambda: len(outcomes(h)) == 4, 30, "first four confirmations")
    sprayer_server.stop()
    for cmd in seq[4:10]:
        h.plugin.submit(cmd)  # queued while the actuator is down
    wait_for(lambda: all(h.plugin.workers[a].stats["failures"] >= 2 for a in ("spr-0", "spr-1")), 30,
             "failed attempts on both actuators while the server is down")
    assert len(outcomes(h)) == 4
    sprayer_server.start()
    for cmd in seq[10:]:
        h.plugin.submit(cmd)
    wait_for(lambda: len(outcomes(h)) == 12, 30, "all confirmations")
    h.stop()
    ids = [o.command.command_id for o in outcomes(h)]
    assert sorted(ids) == sorted(c.command_id for c in seq) and len(set(ids)) == 12  # each once
    for coil in (0, 1):
        actuator = f"spr-{coil}"
        wanted = [c.action == "on" for c in seq if c.actuator == actuator]
        assert [v for c, v in sprayer_server.writes if c == coil] == wanted  # once each, in order
        assert [o.command.command_id for o in outcomes(h) if o.command.actuator == actuator] == \
            [c.command_id for c in seq if c.actuator == actuator]
    published = h.of_schema("rsu.actuation.outcome/1")
    assert sorted(m.data["command"]["command_id"] for m in published) == sorted(ids)


def test_plugin_restart_resumes_journal_without_duplicates(sprayer_server: SprayerServer, tmp_path):
    config = sprayer_config(sprayer_server.port, n=1)
    config["actuation"] = {**config["actuation"], "stop_timeout_s": 0.2}
    first = Harness(config, state_dir=tmp_path)
    first.plugin.submit(command(1, "spr-0", "on"))
    wait_for(lambda: len(outcomes(first)) == 1, 30, "first confirmation")
    sprayer_server.stop()
    first.plugin.submit(command(2, "spr-0", "off"))
    first.plugin.submit(command(3, "spr-0", "on"))
    first.stop()  # actuator still down: both stay in the journal
    assert [c.command_id for c in first.plugin.journal.pending()] == ["test-2", "test-3"]

    sprayer_server.start()
    second = Harness(config, state_dir=tmp_path)
    assert second.plugin.submit(command(1, "spr-0", "on")) is False  # already confirmed before the restart
    assert second.plugin.submit(command(2, "spr-0", "off")) is False  # pending from the journal
    wait_for(lambda: len(outcomes(second)) == 2, 30, "resumed confirmations")
    second.stop()
    assert [o.command.command_id for o in outcomes(second)] == ["test-2", "test-3"]
    assert sprayer_server.writes == [(0, True), (0, False), (0, True)]
    assert second.plugin.journal.pending() == []


def test_unreachable_actuator_alarms_after_the_configured_attempts():
    dead_port = free_port()  # nothing listens here: every attempt fails at once
    config = sprayer_config(dead_port, n=2)
    config["actuation"] = {**config["actuation"], "alarm_after_attempts": 3, "alarm_after_s": 3600,
                           "stop_timeout_s": 0.5}
    failures_at_alarm: dict[str, int] = {}
    h: Harness

    class Recorder(list):  # the host's emit runs on the worker thread, right when the alarm is raised
        def append(self, product) -> None:
            if isinstance(product, Alarm):
                failures_at_alarm[product.device] = h.plugin.workers[product.device].stats["failures"]
            super().append(product)

    h = Harness(config, emitted=Recorder())
    for i in range(40):
        h.plugin.rsu_on_reading(reading(i, 300 if (i // 5) % 2 == 0 else 20))
    wait_for(lambda: len([p for p in h.emitted if isinstance(p, Alarm)]) == 2, 30, "two alarms")
    alarms = [p for p in h.emitted if isinstance(p, Alarm)]
    assert sorted(a.device for a in alarms) == ["spr-0", "spr-1"]
    assert all(a.kind == "actuator_unreachable" and a.active and a.severity == "critical" for a in alarms)
    assert failures_at_alarm == {"spr-0": 3, "spr-1": 3}  # raised at the third failed attempt, not before
    assert sorted(m.topic for m in h.of_schema("rsu.fault.alarm/1")) == ["rsu/test-site/fault/spr-0",
                                                                         "rsu/test-site/fault/spr-1"]
    assert h.plugin.counts["commands"] == 16  # 8 switches x 2 sprayers, all kept for retry
    h.stop()
    assert not any(w.running() for w in h.plugin.workers.values())
    assert len(h.plugin.journal.pending()) == 16
    assert outcomes(h) == []


def test_readings_never_wait_on_the_network():
    with BlackHole() as hole:  # accepts connections, never answers: each request would block for timeout_s
        config = sprayer_config(hole.port, n=2)
        config["actuation"] = {**config["actuation"], "timeout_s": 60, "stop_timeout_s": 0.5}
        h = Harness(config)
        for i in range(40):
            h.plugin.rsu_on_reading(reading(i, 300 if (i // 5) % 2 == 0 else 20))
        assert h.plugin.counts["readings"] == 40 and h.plugin.counts["commands"] == 16
        wait_for(lambda: hole.connections >= 2, 30, "both workers connected")
        # every reading was handled while both workers were still blocked in their first request
        assert [w.stats["attempts"] for w in h.plugin.workers.values()] == [1, 1]
        assert [w.stats["failures"] for w in h.plugin.workers.values()] == [0, 0]
    h.stop()  # the hole closed: the blocked requests fail, and the workers stop
    assert not any(w.running() for w in h.plugin.workers.values())
    assert len(h.plugin.journal.pending()) == 16


def test_override_coil_holds_automatic_control(sprayer_server: SprayerServer):
    from dust_helpers import OVERRIDE_COIL

    sprayer_server.coils[OVERRIDE_COIL] = True
    sprayer_server.stop()
    sprayer_server.start()
    config = sprayer_config(sprayer_server.port, n=1, manual_override={
        "modbus": {"host": "127.0.0.1", "port": sprayer_server.port, "coil": OVERRIDE_COIL, "poll_s": 0.05}})
    h = Harness(config)
    wait_for(lambda: h.plugin.override is not None and h.plugin.override.active, 30, "override read")
    h.plugin.rsu_on_reading(reading(0, 400))
    assert h.plugin.counts["commands"] == 0
    sprayer_server.set_coil(OVERRIDE_COIL, False)
    wait_for(lambda: not h.plugin.override.active, 30, "override cleared")
    h.plugin.rsu_on_reading(reading(1, 400))
    wait_for(lambda: len(outcomes(h)) == 1, 30, "confirmation")
    h.stop()
    assert sprayer_server.writes == [(0, True)]
