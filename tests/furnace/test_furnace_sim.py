"""The furnace simulator: deterministic from the seed, labelled fault episodes with visible precursors."""

from __future__ import annotations

import json

import numpy as np
import pytest
from click.testing import CliRunner

from rsu.cli import main
from rsu.sim.furnace import CHANNELS, FAULT_KINDS, FurnaceSettings, read_truth, simulate, simulate_run
from rsu.sim.furnace.plant import idx
from rsu.sources.sensor_replay import iter_readings

SETTINGS = FurnaceSettings(seconds=4 * 3600, devices=3, fault_gap_s=1200)


@pytest.fixture(scope="module")
def run():
    return simulate_run(11, SETTINGS)


def test_same_seed_same_data_other_seed_other_data(run):
    again = simulate_run(11, SETTINGS)
    other = simulate_run(12, SETTINGS)
    for dev in run.devices:
        assert np.array_equal(run.values[dev], again.values[dev])
        assert not np.array_equal(run.values[dev], other.values[dev])
    assert run.episodes == again.episodes != other.episodes
    # adding a device leaves the others as they were
    more = simulate_run(11, FurnaceSettings(seconds=4 * 3600, devices=4, fault_gap_s=1200))
    assert np.array_equal(more.values["furnace-1"], run.values["furnace-1"])


def test_shapes_rate_and_channels(run):
    assert len(CHANNELS) == 10
    for values in run.values.values():
        assert values.shape == (4 * 3600, 10) and values.dtype == np.float32
        assert np.isfinite(values).all()
    half = simulate_run(11, FurnaceSettings(seconds=600, devices=1, rate_hz=0.5))
    assert half.values["furnace-1"].shape == (300, 10)
    assert np.diff(half.t_ns())[0] == 2_000_000_000


def test_episodes_are_labelled_and_ordered(run):
    assert len(run.episodes) >= 6
    assert {e.kind for e in run.episodes} <= set(FAULT_KINDS)
    for dev in run.devices:
        eps = [e for e in run.episodes if e.device == dev]
        for a, b in zip(eps, eps[1:]):
            assert a.fault_end_s < b.precursor_start_s
        y = run.labels(dev)
        for e in eps:
            assert e.precursor_start_s < e.fault_start_s < e.fault_end_s
            assert y[int(e.fault_start_s) + 1] == 1.0 and y[int(e.precursor_start_s) + 1] == 1.0
            assert y[int(e.precursor_start_s) - 1] == 0.0
            assert y[int(e.fault_end_s) + 30] == -1.0  # recovery: ignored in training


def test_precursors_show_before_the_fault(run):
    """Each kind moves its signature channel between precursor start and fault start (beyond the noise)."""
    signature = {"hanging": ("permeability_index", -1), "tuyere_damage": ("cooling_water_out_temp", +1),
                 "cooling_failure": ("stave_temp", +1)}
    for e in run.episodes:
        ch, sign = signature[e.kind]
        x = run.values[e.device][:, idx(ch)]
        before = x[int(e.precursor_start_s) - 30:int(e.precursor_start_s)].mean()
        late = x[int(e.fault_start_s) - 15:int(e.fault_start_s)].mean()
        noise = x[int(e.precursor_start_s) - 300:int(e.precursor_start_s)].std()
        assert sign * (late - before) > 2 * noise, (e, before, late, noise)


def test_simulate_writes_recording_and_truth(tmp_path):
    summary = simulate(tmp_path, seconds=900, seed=3, devices=2, rate=1.0, fault_gap_s=300)
    assert summary["readings"] == 1800 and summary["episodes"] >= 1
    truth = read_truth(tmp_path)
    assert truth["channels"] == list(CHANNELS) and truth["units"]["stave_temp"] == "degC"
    ep = truth["episodes"][0]
    assert ep["precursor_start_ns"] < ep["fault_start_ns"] < ep["fault_end_ns"]
    readings = list(iter_readings(tmp_path))
    assert len(readings) == 1800
    assert [r.t_event_ns for r in readings] == sorted(r.t_event_ns for r in readings)
    assert set(readings[0].values) == set(CHANNELS)


def test_cli_simulate_furnace(tmp_path):
    result = CliRunner().invoke(main, ["simulate", "furnace", "--out", str(tmp_path / "rec"), "--seconds", "120",
                                       "--seed", "5", "--devices", "3", "--rate", "2"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.output.strip().splitlines()[-1])
    assert summary["scenario"] == "furnace" and summary["samples_per_device"] == 240 and len(summary["devices"]) == 3
    assert (tmp_path / "rec" / "readings.csv").stat().st_size > 0
