"""The air-station source: message format, ZeroMQ on loopback, Modbus polling of a real pymodbus server,
replay of a simulator recording, and its config section."""

from __future__ import annotations

import json
import logging
import threading
import time

import pytest
import zmq
from pydantic import TypeAdapter, ValidationError
from pymodbus.simulator import DataType, SimData
from rsu_sdk import HealthEvent, SensorReading

from rsu.config.sources import SourceConfig
from rsu.sim.air_station import STATIONS, read_truth, simulate
from rsu.sources.air_station import AirStationSource, MessageError, parse_message
from support import ModbusServer, SourceRun, free_port, wait_until

ADAPTER = TypeAdapter(SourceConfig)


class Running(SourceRun):
    """Run a source on a thread, collecting what it emits."""

    def readings(self) -> list[SensorReading]:
        return self.of(SensorReading)

    def health(self) -> list[str]:
        return [p.status for p in self.of(HealthEvent)]


def source(**cfg) -> AirStationSource:
    return AirStationSource(ADAPTER.validate_python({"id": "air-1", "type": "air_station", **cfg}))


# -- message format -------------------------------------------------------------------------------


def test_message_good_and_bad():
    r = parse_message(b'{"station": "aq-1", "t_ns": 5, "pm2_5": 42, "humidity_pct": 60.5, "other": "x"}',
                      source="air-1", default_station="aq-0", received_ns=9)
    assert (r.device, r.t_event_ns, dict(r.values)) == ("aq-1", 5, {"pm2_5": 42.0, "humidity_pct": 60.5})
    assert r.units == {"pm2_5": "ug/m3", "humidity_pct": "%"}
    r = parse_message({"t": 1.5, "pm10": 10, "pm2_5": None}, source="air-1", default_station="aq-0", received_ns=9)
    assert (r.device, r.t_event_ns, dict(r.values)) == ("aq-0", 1_500_000_000, {"pm10": 10.0})
    assert parse_message({"pm2_5": 1}, source="s", default_station="aq", received_ns=9).t_event_ns == 9
    bad = {
        b"\xff\xfe": "not UTF-8 JSON", b"[1]": "expected a JSON object", b'{"schema": "x/1", "pm2_5": 1}': "schema",
        b'{"pm2_5": "high"}': "pm2_5: expected a finite number", b'{"pm2_5": -3}': "pm2_5: -3 outside",
        b'{"humidity_pct": 130}': "humidity_pct: 130 outside", b'{"t_ns": -1, "pm2_5": 1}': "t_ns",
        b'{"station": "", "pm2_5": 1}': "station", b'{"note": 1}': "no channel",
        b'{"pm2_5": NaN}': "pm2_5: expected a finite number",
    }
    for payload, words in bad.items():
        with pytest.raises(MessageError, match=words):
            parse_message(payload, source="s", default_station="aq", received_ns=0)


def test_config_needs_exactly_one_input_and_known_channels():
    with pytest.raises(ValidationError, match="exactly one of zmq, modbus, replay"):
        ADAPTER.validate_python({"id": "a", "type": "air_station"})
    with pytest.raises(ValidationError, match="exactly one of zmq, modbus, replay"):
        ADAPTER.validate_python({"id": "a", "type": "air_station", "zmq": {"endpoint": "tcp://x:1"},
                                 "replay": {"path": "p"}})
    with pytest.raises(ValidationError, match="unknown channel"):
        ADAPTER.validate_python({"id": "a", "type": "air_station",
                                 "modbus": {"host": "h", "registers": {"pm25": {"address": 0}}}})
    cfg = ADAPTER.validate_python({"id": "a", "type": "air_station", "zmq": {"endpoint": "tcp://h:1"}})
    assert type(cfg).__name__ == "AirStationSourceConfig"


# -- ZeroMQ ---------------------------------------------------------------------------------------


def test_zmq_input_good_bad_and_silence():
    port = free_port()
    pub = zmq.Context.instance().socket(zmq.PUB)
    pub.setsockopt(zmq.LINGER, 0)
    pub.bind(f"tcp://127.0.0.1:{port}")
    run = Running(source(station="aq-9", zmq={"endpoint": f"tcp://127.0.0.1:{port}", "stale_after_s": 0.4}))
    try:
        # slow joiner: repeat a probe (its own station) until one is read: the subscription is in place
        wait_until(lambda: run.readings() or pub.send_multipart([b"air", b'{"station": "probe", "pm2_5": 1.0}']),
                   30, "a probe reading (the subscription in place)", interval=0.05)
        h0 = len(run.health())

        def after_probes() -> list[SensorReading]:  # a probe still on its way may come in later: not counted
            return [r for r in run.readings() if r.device != "probe"]

        t10, t11 = time.time_ns() - 2_000_000_000, time.time_ns() - 1_000_000_000
        pub.send_multipart([b"air", json.dumps({"station": "aq-1", "t_ns": t10, "pm2_5": 180.5}).encode()])
        pub.send_multipart([b"air", b"{not json"])
        pub.send_multipart([b"air", b'{"pm2_5": "lots"}'])
        pub.send_multipart([b"air", b'{"pm2_5": 1.0, "t_ns": 10}'])  # 1970: outside max_clock_skew_s
        pub.send(json.dumps({"t_ns": t11, "pm2_5": 20.0, "wind_speed_mps": 3}).encode())  # single frame
        wait_until(lambda: len(after_probes()) == 2, 30, "two good readings")
        got = after_probes()
        assert [(r.device, r.t_event_ns, r.values["pm2_5"]) for r in got] == [("aq-1", t10, 180.5),
                                                                            ("aq-9", t11, 20.0)]
        stats = run.source.stats()
        assert stats["bad"] == 3 and stats["time_rejected"] == 1
        wait_until(lambda: run.health()[h0:] == ["down"], 3, "silence -> down")
        pub.send_multipart([b"air", b'{"pm2_5": 30}'])
        wait_until(lambda: run.health()[h0:] == ["down", "ok"], 3, "recovery -> ok")
    finally:
        run.close()
        pub.close()


# -- Modbus ---------------------------------------------------------------------------------------


def station_server() -> ModbusServer:
    """A real pymodbus TCP server holding an air station's register map: input registers 0..5 pm2_5, pm10,
    humidity as FLOAT32; holding register 10 the temperature x10 (int16)."""
    return ModbusServer((
        [SimData(0, values=[False] * 16, datatype=DataType.BITS)],
        [SimData(0, values=[False] * 16, datatype=DataType.BITS)],
        [SimData(10, values=-35, datatype=DataType.INT16)],
        [SimData(0, values=[172.5, 250.0, 61.0], datatype=DataType.FLOAT32)],
    ))


def test_modbus_polling_against_a_real_server_with_loss_and_recovery():
    logging.getLogger("pymodbus").setLevel(logging.CRITICAL)
    server = station_server().start()
    run = Running(source(station="aq-7", retry_initial_s=0.05, retry_max_s=0.2, modbus={
        "host": "127.0.0.1", "port": server.port, "poll_s": 0.05, "timeout_s": 0.5, "registers": {
            "pm2_5": {"address": 0}, "pm10": {"address": 2}, "humidity_pct": {"address": 4},
            "temperature_c": {"address": 10, "kind": "holding", "type": "int16", "scale": 0.1}}}))
    try:
        wait_until(lambda: len(run.readings()) >= 3, 5, "three polls")
        r = run.readings()[0]
        assert r.device == "aq-7" and r.source == "air-1"
        assert dict(r.values) == pytest.approx({"pm2_5": 172.5, "pm10": 250.0, "humidity_pct": 61.0,
                                                "temperature_c": -3.5})
        assert r.units["temperature_c"] == "degC"
        server.stop()
        wait_until(lambda: run.health() == ["down"], 5, "loss -> down")
        n = len(run.readings())
        server.start()
        wait_until(lambda: run.health() == ["down", "ok"] and len(run.readings()) > n, 5, "recovery")
        assert run.source.stats()["reconnects"] >= 1
    finally:
        run.close()
        server.close()


def test_modbus_unreachable_station_never_crashes():
    run = Running(source(retry_initial_s=0.05, retry_max_s=0.1, modbus={
        "host": "127.0.0.1", "port": free_port(), "timeout_s": 0.2, "registers": {"pm2_5": {"address": 0}}}))
    wait_until(lambda: run.source.stats()["reconnects"] >= 3, 5, "retries")
    run.close()
    assert run.health() == ["down"] and run.readings() == []


# -- replay of a simulator recording --------------------------------------------------------------


def test_simulator_recording_replays_with_bad_lines_counted(tmp_path):
    summary = simulate(tmp_path / "rec", seconds=700, seed=4)
    truth = read_truth(tmp_path / "rec")
    assert {e["kind"] for e in truth["events"]} == {"truck_pass", "wind_gust", "rain_spell"}
    assert summary["readings"] == 700 * len(STATIONS)
    with (tmp_path / "rec" / "readings.jsonl").open("a") as fh:
        fh.write("garbage\n")
    run = Running(source(replay={"path": str(tmp_path / "rec"), "speed": 0}))
    run.thread.join(10)
    readings = run.readings()
    assert len(readings) == 1400 and run.source.stats()["bad"] == 1
    times = [r.t_event_ns for r in readings]
    assert times == sorted(times) and times[0] == truth["t0_ns"]
    # ground truth agrees with the data: every exceedance interval has PM2.5 > 150 at its start
    for station, intervals in truth["exceedances"].items():
        for start, _end in intervals:
            assert any(r.device == station and r.t_event_ns == start and r.values["pm2_5"] > 150 for r in readings)
    # rain spells raise the humidity the dust rule looks at
    rain = next(e for e in truth["events"] if e["kind"] == "rain_spell")
    mid = (rain["t_start_ns"] + rain["t_end_ns"]) // 2
    assert max(r.values["humidity_pct"] for r in readings if abs(r.t_event_ns - mid) < 30e9) > 90


def test_replay_loop_keeps_event_time_increasing(tmp_path):
    simulate(tmp_path, seconds=5, seed=1)
    src = source(replay={"path": str(tmp_path / "readings.jsonl"), "speed": 0, "loop": True})
    out: list = []
    stop = threading.Event()

    def emit(p):
        out.append(p)
        if len(out) >= 25:
            stop.set()

    src.run(emit, stop)
    times = [p.t_event_ns for p in out if isinstance(p, SensorReading)]
    assert len(times) >= 25 and times == sorted(times) and len(set(times)) == len(times) // 2 + len(times) % 2


def test_simulator_is_deterministic(tmp_path):
    simulate(tmp_path / "a", seconds=60, seed=7)
    simulate(tmp_path / "b", seconds=60, seed=7)
    simulate(tmp_path / "c", seconds=60, seed=8)
    a, b, c = ((tmp_path / d / "readings.jsonl").read_bytes() for d in "abc")
    assert a == b and a != c


def test_missing_recording_is_a_health_event(tmp_path):
    run = Running(source(replay={"path": str(tmp_path / "nope.jsonl")}))
    run.thread.join(5)
    assert run.health() == ["down"] and "cannot read recording" in run.source.stats()["last_error"]


def test_replay_rebase_time_starts_now(tmp_path):
    simulate(tmp_path, seconds=3, seed=1)
    before = time.time_ns()
    run = Running(source(replay={"path": str(tmp_path), "speed": 0, "rebase_time": True}))
    run.thread.join(5)
    times = [r.t_event_ns for r in run.readings()]
    # as fast as possible and rebased: each reading stamped with the box clock as it is emitted
    assert len(times) == 6 and before <= times[0] and times == sorted(times) and times[-1] <= time.time_ns()
    assert run.source.stats()["time_mode"] == "now"
