"""``rsu bench pipeline``: per-event overhead of the embedded runner inside the Box (ingest queue, router,
operator runner, delivery), excluding model time, at 4 sensors x 20 Hz and at saturation.

Baseline (same run): the bare operator call (``DeviceWindowOperator.process`` with a plain context), and the
runner alone (``EmbeddedRunner.process``) without the Box. Overhead per event = ingest -> delivered minus
that event's own operator call.
"""

from __future__ import annotations

import threading
import time
from typing import Any

import numpy as np

from rsu_sdk import SensorReading

from rsu.app.box import Box
from rsu.bench.timing import summary_ms
from rsu.pipeline.embedded import EmbeddedRunner
from rsu.pipeline.window_op import DeviceWindowOperator

CHANNELS = ("a", "b", "c", "d")


class _TimedOp(DeviceWindowOperator):
    """The window operator, recording each call's own time (the model-free work to subtract)."""

    def __init__(self) -> None:
        super().__init__(CHANNELS, window=20, stride=1)
        self.op_ns: dict[int, int] = {}

    def process(self, element: Any, ctx: Any) -> Any:
        t0 = time.perf_counter_ns()
        out = super().process(element, ctx)
        self.op_ns[id(element)] = time.perf_counter_ns() - t0
        return out


class _Sink:
    def __init__(self, n: int) -> None:
        self.t_in: dict[int, int] = {}
        self.lat: list[tuple[int, int]] = []
        self.n = n
        self.done = threading.Event()

    def deliver(self, product: Any, origin: str = "") -> None:
        if isinstance(product, SensorReading):
            self.lat.append((id(product), time.perf_counter_ns()))
            if len(self.lat) >= self.n:
                self.done.set()

    def stop_plugins(self) -> None: ...
    def close(self) -> None: ...
    def stats(self) -> dict[str, Any]:
        return {}


def _readings(n: int, sensors: int, t0: int) -> list[SensorReading]:
    rng = np.random.default_rng(0)
    vals = rng.normal(size=(n, len(CHANNELS)))
    return [SensorReading(source="bench", t_event_ns=t0 + i * 12_500_000, device=f"s{i % sensors}",
                          values=dict(zip(CHANNELS, vals[i].tolist()))) for i in range(n)]


def _box_run(events: list[SensorReading], rate_hz: float | None) -> tuple[np.ndarray, float]:
    op = _TimedOp()
    sink = _Sink(len(events))
    box = Box(sources=[], sink=sink, inline_stages=[EmbeddedRunner([op], out_of_orderness_ms=200)],
              queue_size=len(events) + 1)
    box.start()
    t_in: dict[int, int] = {}
    t0 = time.perf_counter()
    for i, e in enumerate(events):
        if rate_hz:
            wait = t0 + i / rate_hz - time.perf_counter()
            if wait > 0:
                time.sleep(wait)
        t_in[id(e)] = time.perf_counter_ns()
        box.ingest(e)
    sink.done.wait(60)
    wall = time.perf_counter() - t0
    box.stop()
    overhead = np.array([(t - t_in[i] - op.op_ns.get(i, 0)) / 1e6 for i, t in sink.lat])
    return overhead, len(sink.lat) / wall


def run(quick: bool = False) -> dict[str, Any]:
    t0 = time.time_ns()
    n_paced = 160 if quick else 800  # 4 sensors x 20 Hz: 2 s or 10 s
    n_sat = 5_000 if quick else 40_000
    # baselines: the bare operator call, and the runner alone
    op = DeviceWindowOperator(CHANNELS, window=20, stride=1)
    runner = EmbeddedRunner([op])
    base_events = _readings(n_sat, 4, t0)
    bare = []

    class Ctx:
        key = ""
        timestamp_ns = 0
        watermark_ns = 0

        def __init__(self) -> None:
            self.states: dict[tuple[str, str], Any] = {}

        def value_state(self, name: str) -> Any:
            return runner.store.value_state("bare", name, self.key)

    ctx = Ctx()
    for e in base_events[:5_000]:
        ctx.key = e.device
        a = time.perf_counter_ns()
        op.process(e, ctx)
        bare.append((time.perf_counter_ns() - a) / 1e6)
    runner_ms = []
    for e in base_events:
        a = time.perf_counter_ns()
        runner.process(e)
        runner_ms.append((time.perf_counter_ns() - a) / 1e6)
    paced, _ = _box_run(_readings(n_paced, 4, t0), 80.0)
    sat, sat_rate = _box_run(_readings(n_sat, 4, t0), None)
    p = summary_ms(paced)
    bare_s, runner_s = summary_ms(bare), summary_ms(runner_ms)
    return {
        "target": "pipeline", "operator": "DeviceWindowOperator(window=20, stride=1), no model",
        "overhead_p50_ms": p["p50_ms"], "overhead_p99_ms": p["p99_ms"],
        "events_per_s": round(sat_rate, 1),
        "paced": {"sensors": 4, "rate_hz": 20, "events": n_paced, **p},
        "saturation": {"events": n_sat, "events_per_s": round(sat_rate, 1), **summary_ms(sat)},
        "baseline_operator_call": bare_s,
        "baseline_runner_process": {**runner_s, "events_per_s": round(1e3 / max(runner_s["mean_ms"], 1e-9), 1)},
        "overhead_p99_over_operator_p50": round(p["p99_ms"] / max(bare_s["p50_ms"], 1e-9), 1),
        "target_overhead_p99_ms": 1.0, "meets_target": p["p99_ms"] <= 1.0,
        "load_avg_1m": round(__import__("os").getloadavg()[0], 2), "cpus": __import__("os").cpu_count(),
    }
