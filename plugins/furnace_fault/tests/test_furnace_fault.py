"""The furnace_fault plugin through the SDK test kit: hysteresis, publishing, emitted alarms, models."""

from __future__ import annotations

import json

import pytest
from rsu_sdk import Alarm
from rsu_sdk.errors import PluginConfigError
from rsu_sdk.testing import T0_NS, make_prediction, run_plugin

from rsu_furnace_fault import AlarmRule, DeviceAlarm, FurnaceFault, load_metadata
from rsu_furnace_fault.plugin import ALARM_SCHEMA

S = 1_000_000_000
CONFIG = {"raise_threshold": 0.8, "clear_threshold": 0.4, "min_duration_s": 5}


def scores(values, device="furnace-1", model="fault-lstm", start=0):
    return [make_prediction(score=v, device=device, model=model, t_event_ns=T0_NS + (start + i) * S)
            for i, v in enumerate(values)]


def test_raise_after_min_duration_and_clear_below_lower_threshold():
    # 0.9 for 4 s is not enough; a dip restarts the timer; then 6 s above raises once;
    # scores between the thresholds keep it raised; 6 s below 0.4 clears it.
    seq = [0.9] * 4 + [0.1] + [0.9] * 7 + [0.6] * 10 + [0.3] * 7
    run = run_plugin(FurnaceFault, scores(seq), config=CONFIG)
    alarms = run.emitted_of(Alarm)
    assert [a.active for a in alarms] == [True, False]
    assert alarms[0].t_event_ns == T0_NS + 10 * S  # first 0.9 of the run at 5 s, held 5 s
    assert alarms[1].t_event_ns == T0_NS + 27 * S
    assert alarms[0].kind == "furnace_fault" and alarms[0].device == "furnace-1"
    msgs = run.messages("fault")
    assert [m.data["active"] for m in msgs] == [True, False]
    assert msgs[0].source == "furnace-1" and msgs[0].schema == ALARM_SCHEMA
    assert set(msgs[0].data) == {"device", "kind", "active", "severity", "score", "message"}


def test_devices_are_independent_and_other_models_ignored():
    inputs = scores([0.95] * 8, device="furnace-1") + scores([0.95] * 8, device="furnace-2", model="other")
    inputs += scores([0.2] * 3, device="furnace-3")
    run = run_plugin(FurnaceFault, sorted(inputs, key=lambda p: p.t_event_ns), config=CONFIG)
    assert [(a.device, a.active) for a in run.emitted_of(Alarm)] == [("furnace-1", True)]
    assert run.plugin.active_devices() == ["furnace-1"]


def test_device_filter_and_int8_model_choice():
    cfg = {**CONFIG, "devices": ["furnace-2"], "model": "fault-lstm-int8"}
    inputs = scores([0.95] * 8, device="furnace-1", model="fault-lstm-int8")
    inputs += scores([0.95] * 8, device="furnace-2", model="fault-lstm-int8")
    run = run_plugin(FurnaceFault, inputs, config=cfg)
    assert [a.device for a in run.emitted_of(Alarm)] == ["furnace-2"]


def test_defaults_come_from_the_model_metadata():
    meta = load_metadata()
    run = run_plugin(FurnaceFault, scores([0.999] * (int(meta["min_duration_s"]) + 2)))
    assert len(run.emitted_of(Alarm)) == 1
    rule = AlarmRule(meta["raise_threshold"], meta["clear_threshold"], meta["min_duration_s"])
    assert rule.raise_threshold > rule.clear_threshold


def test_bad_settings_are_rejected():
    with pytest.raises(PluginConfigError):
        run_plugin(FurnaceFault, [], config={"raise_threshold": 2})
    with pytest.raises(PluginConfigError):
        run_plugin(FurnaceFault, [], config={"unknown": 1})
    with pytest.raises(ValueError, match="clear_threshold"):
        AlarmRule(raise_threshold=0.5, clear_threshold=0.6)


def test_out_of_order_scores_are_ignored():
    state = DeviceAlarm(AlarmRule(0.8, 0.4, 0.0))
    assert state.update(0.9, 10 * S) is True
    assert state.update(0.1, 5 * S) is None and state.active
    assert state.update(0.1, 11 * S) is False


def test_registered_models_ship_with_their_metadata():
    plugin = FurnaceFault()
    specs = {s.name: s for s in plugin.rsu_register_models()}
    assert set(specs) == {"fault-lstm", "fault-lstm-int8"}
    for spec in specs.values():
        assert spec.kind == "fault-predictor" and spec.path.is_file()
        assert 5_000 < spec.path.stat().st_size < 200_000  # tens of KB
        meta = spec.metadata
        assert len(meta["channels"]) == len(meta["mean"]) == len(meta["std"]) == 10
        assert meta["window"] > 1 and meta["rate_hz"] > 0
        assert meta["training"]["seed"] == 7 and meta["training"]["data"]["data_seeds"]
    assert specs["fault-lstm-int8"].metadata["precision"] == "int8"
    json.dumps(dict(specs["fault-lstm"].metadata))  # plain JSON
