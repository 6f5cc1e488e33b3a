"""``rsu eval furnace``: simulate held-out plant data, run it through the real path (keyed windows,
dynamic batching, the shipped ONNX model, the ``furnace_fault`` plugin's alarm hysteresis) and score the
alarms against the ground truth (:mod:`rsu.eval.faults`)."""

from __future__ import annotations

import json
import logging
import threading
import time
from pathlib import Path
from typing import Any

from rsu_sdk import Alarm, PluginContext, Prediction, Product, SensorReading, SiteInfo

from rsu.eval.faults import RaisedAlarm, score_alarms
from rsu.inference.fault_predictor import FaultPredictor
from rsu.pipeline.dynamic_batch import BatchPolicy
from rsu.pipeline.fault_stage import FaultPredictionStage
from rsu.plugins.manager import create_plugin_manager
from rsu.plugins.registry import collect_models
from rsu.sim.furnace import CHANNELS, FurnaceSettings, simulate_run, write_recording

__all__ = ["run_scenario", "PLUGIN"]

log = logging.getLogger(__name__)

PLUGIN = "furnace_fault"
DEFAULT_SECONDS = 86_400.0


class _ListPublisher:
    """Keeps what the plugin publishes (the box would send it on ZeroMQ)."""

    def __init__(self) -> None:
        self.messages: list[dict[str, Any]] = []
        self._lock = threading.Lock()

    def publish(self, product: str, data: Any, *, source: str | None = None, t_event_ns: int | None = None,
                schema: str | None = None) -> None:
        with self._lock:
            self.messages.append({"product": product, "source": source, "t_event": t_event_ns, "schema": schema,
                                  **dict(data)})

    def publish_binary(self, product: str, header: Any, body: bytes, **kw: Any) -> None:  # pragma: no cover
        self.publish(product, header, **kw)


def run_scenario(seconds: float | None = None, seed: int = 0, out: Path | None = None, *, devices: int = 3,
                 model: str = "fault-lstm") -> dict[str, Any]:
    """Simulate ``seconds`` of ``devices`` furnaces with ``seed``, run the pipeline, return the scores."""
    t_start = time.perf_counter()
    seconds = DEFAULT_SECONDS if seconds is None else float(seconds)
    loaded = create_plugin_manager([PLUGIN])
    loaded.require_enabled()
    specs = collect_models(loaded.pm)
    if model not in specs:
        raise ValueError(f"model {model!r} is not registered by plugin {PLUGIN} (found: {', '.join(specs) or 'none'})")
    spec = specs[model]
    predictor = FaultPredictor.from_spec(spec)
    train_seeds = list(spec.metadata.get("training", {}).get("data", {}).get("data_seeds", []))
    run = simulate_run(seed, FurnaceSettings(seconds=seconds, devices=devices, rate_hz=predictor.rate_hz))

    preds: list[Prediction] = []
    stage = FaultPredictionStage(predictor, policy=BatchPolicy(), capacity=4096, block_when_full=True)
    stage.start(preds.append)
    t_ns = run.t_ns()
    names = list(CHANNELS)
    arrays = {d: v.tolist() for d, v in run.values.items()}
    for i in range(t_ns.size):
        t = int(t_ns[i])
        for dev, rows in arrays.items():
            stage.process(SensorReading(source="furnace-sim", t_event_ns=t, device=dev,
                                        values=dict(zip(names, rows[i]))))
    stage.close()
    t_pipeline = time.perf_counter()

    from rsu.publish.payloads import publish_product

    emitted: list[Product] = []
    publisher = _ListPublisher()

    def emit(product: Product) -> None:  # as the host does: route it on, and publish it with its payload code
        emitted.append(product)
        publish_product(publisher, product)

    ctx = PluginContext(name=PLUGIN, site=SiteInfo(name="eval", lat=0.0, lon=0.0), config={"model": model},
                        publisher=publisher, emit=emit, logger=logging.getLogger(f"rsu.plugin.{PLUGIN}"))
    loaded.pm.hook.rsu_on_start(context=ctx)
    for p in sorted(preds, key=lambda p: p.t_event_ns):  # the worker keeps per-device order; sort for safety
        loaded.pm.hook.rsu_on_prediction(prediction=p)
    loaded.pm.hook.rsu_on_stop()
    raised = [RaisedAlarm(a.device, a.t_event_ns) for a in emitted if isinstance(a, Alarm) and a.active]

    truth = run.truth()
    result = score_alarms(truth["episodes"], raised, device_seconds=seconds * devices,  # type: ignore[arg-type]
                          recovery_s=float(truth["recovery_s"]))  # type: ignore[arg-type]
    result.update({
        "seed": seed,
        "held_out": seed not in train_seeds,
        "seconds": seconds,
        "devices": devices,
        "model": model,
        "predictions": len(preds),
        "published": len(publisher.messages),
        "stats": {**stage.stats(), "pipeline_s": round(t_pipeline - t_start, 2),
                  "total_s": round(time.perf_counter() - t_start, 2)},
    })
    if out is not None:
        write_recording(run, Path(out))
        with open(Path(out) / "alarms.jsonl", "w", encoding="utf-8") as fh:
            for m in publisher.messages:
                fh.write(json.dumps(m) + "\n")
    return result
