"""The DENM life cycle through the plugin (run as the host runs it) and the codec."""

from __future__ import annotations

import pytest
from hazard_helpers import ZONES, car, cycle, person
from rsu_sdk import PluginConfigError
from rsu_sdk.testing import T0_NS, run_plugin

from rsu_hazard_warning import codec
from rsu_hazard_warning.denm import its_timestamp_ms
from rsu_hazard_warning.plugin import CONFIG_SCHEMA, HazardWarning, encoder_spec

NS = 1_000_000_000


def stopped_then_moving(stop_from: int = 10, stop_to: int = 80, n: int = 140) -> list:
    return [cycle(k, car(1, 30.0, -1.75, ve=0.0 if stop_from <= k < stop_to else 8.0)) for k in range(n)]


def _at(m) -> float:
    return round((m.t_event_ns - T0_NS) / NS, 2)


def test_life_cycle_new_repeat_update_cancel() -> None:
    run = run_plugin(HazardWarning, stopped_then_moving(), config={"zones": ZONES, "station_id": 77})
    msgs = run.messages("v2x/denm")
    kinds = [(_at(m), m.data["transmission"], m.data["terminated"]) for m in msgs]
    # raised at 3.0 s (stationary from 1.0 s, confirmed after 2 s); repeated every 1 s, updated every 3 s;
    # moving from 8.0 s, released 0.8 s later; the cancellation is repeated for 3 s
    assert kinds == [(3.0, "new", False), (4.0, "repeat", False), (5.0, "repeat", False), (6.0, "update", False),
                     (7.0, "repeat", False), (8.0, "repeat", False), (8.8, "cancel", True),
                     (9.8, "repeat", True), (10.8, "repeat", True)]
    assert {m.data["action_id"]["sequence_number"] for m in msgs} == {0}
    assert all(m.schema == "rsu.v2x.denm/1" and m.data["encoding"] == "denm-uper" for m in msgs)
    new, repeat, update, cancel = (codec.decode(msgs[i].body) for i in (0, 1, 3, 6))
    assert msgs[1].body == msgs[0].body                                  # a repetition is the same message
    mgmt = new["denm"]["management"]
    assert mgmt["actionId"] == {"originatingStationId": 77, "sequenceNumber": 0}
    assert mgmt["detectionTime"] == mgmt["referenceTime"] == its_timestamp_ms(T0_NS + 3 * NS)
    assert mgmt["validityDuration"] == 10 and mgmt["transmissionInterval"] == 1000 and mgmt["stationType"] == 15
    assert "termination" not in mgmt
    assert new["denm"]["situation"]["eventType"]["ccAndScc"] == ("stationaryVehicle94", 0)
    assert new["denm"]["alacarte"]["stationaryVehicle"]["stationarySince"] == "lessThan1Minute"
    assert update["denm"]["management"]["referenceTime"] == its_timestamp_ms(T0_NS + 6 * NS)
    assert update["denm"]["management"]["actionId"] == mgmt["actionId"]
    assert cancel["denm"]["management"]["termination"] == "isCancellation"
    assert cancel["denm"]["management"]["actionId"] == mgmt["actionId"]
    assert set(cancel["denm"]) == {"management"}                       # no situation / location / alacarte


def test_each_event_gets_a_new_action_id_and_stop_cancels_what_is_active() -> None:
    cycles = stopped_then_moving(10, 40, 60) + [cycle(k, car(1, 50.0, -1.75)) for k in range(60, 100)]
    run = run_plugin(HazardWarning, cycles, config={"zones": ZONES})
    news = [m for m in run.messages("v2x/denm") if m.data["transmission"] == "new"]
    assert [m.data["action_id"]["sequence_number"] for m in news] == [0, 1]
    last = run.messages("v2x/denm")[-1]
    assert last.data["transmission"] == "cancel" and last.data["action_id"]["sequence_number"] == 1


def test_three_causes_publish_their_cause_codes() -> None:
    cycles = [cycle(k, car(1, 30.0, -1.75), car(2, 60.0 - 0.8 * k, -1.75, ve=-8.0), person(3, 20.0, 1.0, vn=0.0))
              for k in range(40)]
    run = run_plugin(HazardWarning, cycles, config={"zones": ZONES})
    news = {m.data["cause"]: m for m in run.messages("v2x/denm") if m.data["transmission"] == "new"}
    assert {c: (m.data["cause_code"], m.data["sub_cause_code"]) for c, m in news.items()} == {
        "stationaryVehicle": (94, 0), "wrongWayDriving": (14, 2), "humanPresenceOnTheRoad": (12, 4)}
    wrong = codec.decode(news["wrongWayDriving"].body)["denm"]
    assert wrong["location"]["eventPositionHeading"]["value"] == 2700         # heading West
    assert wrong["location"]["eventSpeed"]["speedValue"] == 800
    assert wrong["location"]["detectionZonesToEventPosition"][0]              # a trace upstream along the lane


def test_bad_settings_and_out_of_order_cycles() -> None:
    with pytest.raises(PluginConfigError) as err:
        run_plugin(HazardWarning, [], config={"zones": [{"id": "x", "kind": "lane", "polygon": [[0, 0], [1, 0], [0, 1]]}]})
    assert "zones[0].heading_deg" in str(err.value)
    with pytest.raises(PluginConfigError):
        run_plugin(HazardWarning, [], config={"repetition_s": 0})
    with pytest.raises(PluginConfigError) as err:
        run_plugin(HazardWarning, [], config={"zones": ZONES, "update_s": 12, "validity_s": 10})
    assert "update_s" in str(err.value)
    cycles = stopped_then_moving(0, 40, 40)
    run = run_plugin(HazardWarning, cycles[:30] + [cycles[5]] + cycles[30:], config={"zones": ZONES})
    assert run.plugin.stats()["errors"] == 1                              # counted and skipped, not raised
    assert CONFIG_SCHEMA["properties"]["radio"]["properties"]["mode"]


def test_codec_json_round_trip_and_garbage() -> None:
    run = run_plugin(HazardWarning, stopped_then_moving(), config={"zones": ZONES})
    spec = encoder_spec()
    for m in run.messages("v2x/denm"):
        doc = spec.decode(m.body)
        assert spec.encode(doc) == m.body
    for bad in (b"", b"\x02", run.messages("v2x/denm")[0].body[:20], b"\x02\x0e" + b"\x00" * 40):
        with pytest.raises(codec.DenmCodecError):
            codec.decode(bad)
