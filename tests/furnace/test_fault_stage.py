"""FaultPredictionStage end to end with the real shipped ONNX model (registered by the furnace_fault plugin)."""

from __future__ import annotations

import threading

import numpy as np
import pytest
from rsu_sdk import ModelSpec, Prediction, SensorReading

from rsu.config import parse_config
from rsu.inference.fault_predictor import FaultPredictor, ModelMetadataError
from rsu.pipeline.fault_stage import FaultPredictionStage
from rsu.plugins.manager import create_plugin_manager
from rsu.plugins.registry import collect_models
from rsu.sim.furnace import CHANNELS, FurnaceSettings, simulate_run


@pytest.fixture(scope="module")
def specs() -> dict[str, ModelSpec]:
    loaded = create_plugin_manager(["furnace_fault"])
    loaded.require_enabled()
    return collect_models(loaded.pm)


@pytest.fixture(scope="module")
def sim():
    return simulate_run(21, FurnaceSettings(seconds=3 * 3600, devices=2, fault_gap_s=1200))


def readings(run, upto: int | None = None):
    t = run.t_ns()
    n = t.size if upto is None else upto
    for i in range(n):
        for dev in run.devices:
            yield SensorReading(source="sim", t_event_ns=int(t[i]), device=dev,
                                values=dict(zip(CHANNELS, run.values[dev][i].tolist())))


def test_inline_stage_predicts_per_device(specs, sim):
    pred = FaultPredictor.from_spec(specs["fault-lstm"])
    assert pred.channels == CHANNELS and pred.window == 60
    stage = FaultPredictionStage(pred)
    out: list[Prediction] = []
    for r in readings(sim, upto=200):
        out.extend(stage.process(r))
    assert len(out) == 2 * (200 - 59)
    assert {p.device for p in out} == set(sim.devices)
    assert all(0.0 <= p.score <= 1.0 and p.model == "fault-lstm" for p in out)
    st = stage.stats()
    assert st["windows"] == len(out) and st["mode"] == "inline" and st["latency"]["n"] == len(out)


def test_model_separates_faults_from_normal_operation(specs, sim):
    """Scores during the late precursor and the fault are high; in quiet normal operation they are low."""
    stage = FaultPredictionStage(FaultPredictor.from_spec(specs["fault-lstm"]))
    scores: dict[tuple[str, int], float] = {}
    t0 = int(sim.t_ns()[0])
    for r in readings(sim):
        for p in stage.process(r):
            scores[(p.device, (p.t_event_ns - t0) // 1_000_000_000)] = p.score
    hot, quiet = [], []
    for dev in sim.devices:
        y = sim.labels(dev)
        for (d, s), v in scores.items():
            if d == dev:
                (hot if y[s] == 1 else quiet if y[s] == 0 else []).append(v)
    late = [scores[(e.device, int(e.fault_start_s) + 5)] for e in sim.episodes]
    assert np.median(late) > 0.95 and np.mean(np.array(quiet) < 0.5) > 0.98
    assert np.mean(hot) > 0.6


def test_worker_mode_batches_dynamically_and_matches_inline(specs, sim):
    pred = FaultPredictor.from_spec(specs["fault-lstm"])
    inline = FaultPredictionStage(pred)
    expected = [p for r in readings(sim, upto=400) for p in inline.process(r)]
    got: list[Prediction] = []
    lock = threading.Lock()

    def emit(p):
        with lock:
            got.append(p)

    worker = FaultPredictionStage(pred, capacity=256, block_when_full=True)
    worker.start(emit)
    for r in readings(sim, upto=400):
        assert worker.process(r) == []
    worker.close()
    assert len(got) == len(expected)
    key = lambda p: (p.device, p.t_event_ns)  # noqa: E731
    np.testing.assert_allclose([p.score for p in sorted(got, key=key)], [p.score for p in sorted(expected, key=key)],
                               atol=1e-5)
    batches = worker.stats()["batches"]
    assert sum(int(k) * v for k, v in batches.items()) == len(got)
    assert max(int(k) for k in batches) > 1  # a backlog built up and was batched


def test_int8_variant_agrees_with_fp32(specs, sim):
    fp32 = FaultPredictor.from_spec(specs["fault-lstm"])
    int8 = FaultPredictor.from_spec(specs["fault-lstm-int8"])
    stage = FaultPredictionStage(fp32)
    windows = [w for r in readings(sim, upto=600) if (w := stage.windows.push(r)) is not None]
    x = np.stack(windows)
    assert np.abs(fp32.predict(x) - int8.predict(x)).max() < 0.05


def test_devices_filter_and_channel_map(specs):
    pred = FaultPredictor.from_spec(specs["fault-lstm"])
    stage = FaultPredictionStage(pred, devices=["f2"], channel_map={"stave_temp": "stave_t"})
    values = {c: 1.0 for c in CHANNELS if c != "stave_temp"} | {"stave_t": 60.0}
    out = []
    for i in range(61):
        for dev in ("f1", "f2"):
            out += stage.process(SensorReading(source="s", t_event_ns=(i + 1) * 10**9, device=dev, values=values))
    assert [p.device for p in out] == ["f2", "f2"]
    assert stage.stats()["skipped_devices"] == 61


def test_bad_model_metadata_is_named(specs):
    spec = specs["fault-lstm"]
    meta = dict(spec.metadata)
    del meta["mean"]
    with pytest.raises(ModelMetadataError, match="'mean'"):
        FaultPredictor("x", spec.path, meta)
    with pytest.raises(ModelMetadataError, match="window"):
        FaultPredictor("x", spec.path, {**spec.metadata, "window": 30})
    with pytest.raises(ModelMetadataError, match="not a 'fault-predictor'"):
        FaultPredictor.from_spec(ModelSpec(name="d", path=spec.path, kind="detector"))


def test_config_section():
    cfg = parse_config({"site": {"name": "plant", "lat": 0, "lon": 0},
                        "fault_prediction": {"model": "fault-lstm", "stride": 2, "batching": {"max_batch": 16}}})
    assert cfg.fault_prediction.stride == 2 and cfg.fault_prediction.batching.max_batch == 16
    assert parse_config({"site": {"name": "plant", "lat": 0, "lon": 0}}).fault_prediction is None
