"""dust_control as the host runs it: entry point, settings checked by the host, a simulated air station
replayed through the plugin, sprayers on a real pymodbus server, and every payload valid on the wire."""

from __future__ import annotations

import logging
import threading
from pathlib import Path

import pytest
from support import ModbusServer
from rsu_sdk.testing import RecordingPublisher

from rsu.config.root import RsuConfig
from rsu.plugins.host import PluginHost
from rsu.plugins.settings import check_plugins
from rsu.publish.payloads import publish_product
from rsu.publish.schemas import validate
from rsu.sim.air_station import simulate

pytest.importorskip("rsu_dust_control")


def config(port: int, recording: Path) -> RsuConfig:
    def sprayer(sid: str, pos: list[float], coil: int) -> dict:
        return {"id": sid, "position": pos, "modbus": {"host": "127.0.0.1", "port": port, "coil": coil}}

    return RsuConfig.model_validate({
        "site": {"name": "quarry", "lat": 48.1, "lon": 11.5},
        "sources": [{"id": "air", "type": "air_station", "replay": {"path": str(recording), "speed": 0}}],
        "plugins": {"enabled": ["dust_control"], "queue_size": 100_000, "newest_wins": False, "dust_control": {
            "stations": [{"id": "aq-1", "position": [0, 0]}, {"id": "aq-2", "position": [150, 40]}],
            "sprayers": [sprayer("spr-a", [10, 15], 0), sprayer("spr-b", [140, 30], 1), sprayer("spr-c", [75, -90], 2)],
            "sprayers_per_station": 1, "min_on_s": 30, "min_off_s": 20,
            "actuation": {"timeout_s": 0.5, "retry_initial_s": 0.05, "confirm_timeout_s": 0.3}}},
    })


def test_host_rejects_bad_settings_by_key_path():
    cfg = RsuConfig.model_validate({"site": {"name": "s", "lat": 0, "lon": 0}, "plugins": {
        "enabled": ["dust_control"],
        "dust_control": {"stations": [{"id": "aq-1", "position": [0, 0]}],
                         "sprayers": [{"id": "s", "position": [1, 1], "modbus": {"host": "h"}}], "pm2_5_on": -1}}})
    problems = check_plugins(cfg.plugins)
    assert "plugins.dust_control.sprayers[0].modbus.coil: required key is missing" in problems
    assert any(p.startswith("plugins.dust_control.pm2_5_on:") for p in problems)


def test_simulated_dust_switches_the_nearest_sprayers_over_modbus(tmp_path):
    logging.getLogger("pymodbus").setLevel(logging.CRITICAL)
    simulate(tmp_path / "rec", seconds=900, seed=1)
    rack = ModbusServer().start()  # sprayer coils 0..15; counts writes per coil
    cfg = config(rack.port, tmp_path / "rec")
    publisher = RecordingPublisher()
    hosts: list[PluginHost] = []

    def box_lane(product, origin: str) -> None:  # what the box does with an emitted product: publish, route
        publish_product(publisher, product)
        hosts[0].dispatch(product, exclude=origin.removeprefix("plugin:"))

    host = PluginHost.from_config(cfg, publisher=publisher, state_root=tmp_path / "state", emit_sink=box_lane)
    hosts.append(host)
    host.start()
    try:
        from rsu.sources.air_station import AirStationSource

        readings = []
        AirStationSource(cfg.sources[0]).run(readings.append, threading.Event())
        for r in readings:
            host.dispatch(r)
        assert host.wait_idle(30)
    finally:
        host.stop()
        rack.close()
    msgs = publisher.of("actuation")
    cmds = [m for m in msgs if m.schema == "rsu.actuation.command/1"]
    outs = [m for m in msgs if m.schema == "rsu.actuation.outcome/1"]
    assert cmds, "the simulated truck passes should need spraying"
    assert sorted(m.data["command_id"] for m in cmds) == sorted(m.data["command"]["command_id"] for m in outs)
    assert all(m.data["ok"] for m in outs)
    assert {m.source for m in cmds} <= {"spr-a", "spr-b"}  # spr-c is nobody's nearest
    # each command written exactly once, in order, to the coil of its sprayer
    coil = {"spr-a": 0, "spr-b": 1}
    for sid, c in coil.items():
        assert [m.data["action"] == "on" for m in cmds if m.source == sid] == [v for a, v in rack.writes if a == c]
    # an "on" happens only when the sprayer's station read PM2.5 above 150 at that moment
    station_of = {"spr-a": "aq-1", "spr-b": "aq-2"}
    pm = {(r.device, r.t_event_ns): r.values["pm2_5"] for r in readings}
    for m in cmds:
        if m.data["action"] == "on":
            assert pm[(station_of[m.source], m.t_event_ns)] > 150
    for m in msgs:  # what a subscriber would get, envelope added as the host's publisher does
        payload = {"schema": m.schema, "site": "quarry", "source": m.source, "seq": 0,
                   "t_event": m.t_event_ns, "t_publish": m.t_event_ns, **m.data}
        assert validate(payload) == [], (m.schema, validate(payload))
