"""``rsu bench lstm``: the fault LSTM per window, end to end through the host's stage, against a raw
``session.run`` on the same model in the same run.

- ``raw_p50_ms``: ``session.run`` on one ready, normalised window (the floor).
- ``batch1_p50_ms`` / ``batch1_p99_ms``: one reading in -> one Prediction out through
  :class:`~rsu.pipeline.fault_stage.FaultPredictionStage` inline (window update, normalisation, ORT, result).
- ``windows_per_s``: sustained throughput with dynamic batching (worker mode, a producer that keeps a backlog),
  with ``raw_batch32_windows_per_s`` as its raw counterpart and the batch sizes the policy chose.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np
from rsu_sdk import SensorReading

from rsu.bench.timing import summary_ms, time_calls
from rsu.inference.fault_predictor import FaultPredictor
from rsu.pipeline.fault_stage import FaultPredictionStage

__all__ = ["run"]


def _predictor(precision: str = "fp32") -> FaultPredictor:
    from rsu.plugins.manager import create_plugin_manager
    from rsu.plugins.registry import collect_models

    loaded = create_plugin_manager(["furnace_fault"])
    loaded.require_enabled()
    specs = collect_models(loaded.pm)
    name = "fault-lstm" if precision == "fp32" else "fault-lstm-int8"
    return FaultPredictor.from_spec(specs[name])


def _readings(pred: FaultPredictor, n: int, devices: int) -> list[SensorReading]:
    rng = np.random.default_rng(0)
    base = np.abs(np.asarray(pred.mean, dtype=np.float64)) + 10.0
    out = []
    for i in range(n):
        vals = base + rng.normal(0.0, 1.0, base.size)
        out.append(SensorReading(source="bench", t_event_ns=1_000_000_000 * (i // devices + 1),
                                 device=f"furnace-{i % devices}", values=dict(zip(pred.channels, vals.tolist()))))
    return out


def _throughput(pred: FaultPredictor, readings: list[SensorReading]) -> tuple[float, dict[str, int]]:
    done: list[object] = []
    stage = FaultPredictionStage(pred, capacity=4096, block_when_full=True)
    stage.start(done.append)
    t0 = time.perf_counter()
    for r in readings:
        stage.process(r)
    stage.close()
    dt = time.perf_counter() - t0
    return len(done) / dt, stage.stats()["batches"]


def run(quick: bool = False) -> dict[str, Any]:
    pred = _predictor()
    reps = 2_000 if quick else 20_000
    win = np.random.default_rng(1).normal(size=(1, pred.window, len(pred.channels))).astype(np.float32)
    feed = {pred.input_name: win}
    raw = time_calls(lambda: pred.session.run(None, feed), reps, warmup=50)

    # batch 1 end to end: a warmed-up stage; each timed call is one reading that completes a window
    stage = FaultPredictionStage(pred)
    readings = _readings(pred, pred.window + reps + 50, devices=1)
    for r in readings[:pred.window + 49]:
        stage.process(r)
    it = iter(readings[pred.window + 49:])
    e2e = np.empty(reps)
    for i in range(reps):
        r = next(it)
        t0 = time.perf_counter_ns()
        out = stage.process(r)
        e2e[i] = (time.perf_counter_ns() - t0) / 1e6
        assert len(out) == 1
    # raw throughput at batch 32 and the pipeline's with dynamic batching (a backlog of several devices)
    batch = np.repeat(win, 32, axis=0)
    raw32 = time_calls(lambda: pred.session.run(None, {pred.input_name: batch}), max(50, reps // 40), warmup=5)
    n_dyn = 5_000 if quick else 40_000
    wps, batches = _throughput(pred, _readings(pred, n_dyn + 8 * pred.window, devices=8))

    raw_s, e2e_s = summary_ms(raw), summary_ms(e2e)
    return {
        "model": pred.name,
        "window": pred.window,
        "channels": len(pred.channels),
        "raw_p50_ms": raw_s["p50_ms"],
        "raw_p99_ms": raw_s["p99_ms"],
        "batch1_p50_ms": e2e_s["p50_ms"],
        "batch1_p99_ms": e2e_s["p99_ms"],
        "batch1_over_raw": round(e2e_s["p50_ms"] / raw_s["p50_ms"], 3),
        "windows_per_s": round(wps, 1),
        "raw_batch1_windows_per_s": round(1000.0 / raw_s["p50_ms"], 1),
        "raw_batch32_windows_per_s": round(32_000.0 / float(np.median(raw32)), 1),
        "windows_per_s_over_raw_batch1": round(wps * raw_s["p50_ms"] / 1000.0, 3),
        "dynamic_batches": batches,
        "target_batch1_p99_ms": 0.2,
        "repeats": reps,
        "quick": quick,
    }
