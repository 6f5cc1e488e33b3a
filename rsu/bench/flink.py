"""``rsu bench flink``: the Flink runner on a local mini-cluster (thread mode, bundle size 1, buffer timeout 0,
micro-batched feeder: ``pipeline.flink.max_batch`` / ``batch_wait_ms``, overridable through ``run``'s arguments).

A keyed operator (per-device windows, no model) gets SensorReadings stamped with the send time as event time,
paced at ``rate`` events/s after start-up; each output goes back to the host and through a real ZeroMQ
publisher. Reported: start-up time (job submitted -> first output back), producer -> operator and
producer -> publish latency p50/p99, events/s at saturation. Baseline (same run): the embedded runner on the
same events, and a bare ZeroMQ publish.
"""

from __future__ import annotations

import threading
import time
from typing import Any

from rsu_sdk import Prediction, SensorReading

from rsu.bench.timing import summary_ms
from rsu.config.pipeline import PipelineConfig
from rsu.pipeline.embedded import EmbeddedRunner
from rsu.pipeline.window_op import DeviceWindowOperator

CHANNELS = ("a", "b", "c", "d")


def _reading(i: int, t_ns: int) -> SensorReading:
    return SensorReading(source="bench", t_event_ns=t_ns, device=f"s{i % 4}",
                         values={"a": float(i % 7), "b": 1.0, "c": float(i % 3), "d": 0.5})


def _op() -> DeviceWindowOperator:
    return DeviceWindowOperator(CHANNELS, window=2, stride=1)


def run(quick: bool = False, max_batch: int | None = None, batch_wait_ms: float | None = None) -> dict[str, Any]:
    from rsu.pipeline.flink.runner import FlinkRunner
    from rsu.publish.payloads import publish_product
    from rsu.publish.zmq_publisher import ZmqPublisher
    from rsu.config.publish import ZmqConfig

    rate, seconds = 5_000, (2.0 if quick else 6.0)
    pub = ZmqPublisher("bench", ZmqConfig(endpoint="tcp://127.0.0.1:0"))
    lat_pub: list[float] = []
    got = threading.Event()
    counter = {"n": 0, "target": 0}
    lock = threading.Lock()

    def emit(product: Any) -> None:
        publish_product(pub, product)
        now = time.time_ns()
        with lock:
            if isinstance(product, Prediction):
                lat_pub.append((now - product.t_event_ns) / 1e6)
            counter["n"] += 1
            if counter["n"] >= counter["target"]:
                got.set()

    # baselines: embedded runner per event, bare publish
    runner_e = EmbeddedRunner([_op()])
    base = []
    for i in range(20_000):
        e = _reading(i, 1_700_000_000_000_000_000 + i * 1000)
        a = time.perf_counter_ns()
        runner_e.process(e)
        base.append((time.perf_counter_ns() - a) / 1e6)
    pred = Prediction(source="b", t_event_ns=1, device="s0", model="m", score=0.5)
    pub_ms = []
    for _ in range(5_000):
        a = time.perf_counter_ns()
        publish_product(pub, pred)
        pub_ms.append((time.perf_counter_ns() - a) / 1e6)

    pc = PipelineConfig()
    batching = {k: v for k, v in (("max_batch", max_batch), ("batch_wait_ms", batch_wait_ms)) if v is not None}
    pc = pc.model_copy(update={"out_of_orderness_ms": 50, "flink": pc.flink.model_copy(update=batching)})
    t_start = time.monotonic()
    runner = FlinkRunner([_op()], pc, emit)
    runner.open()
    runner.wait_until_ready()
    # warm-up: until outputs come back
    counter["target"] = 1
    i = 0
    while not got.is_set() and time.monotonic() - t_start < 120:
        runner.process(_reading(i, time.time_ns()))
        i += 1
        got.wait(0.05)
    startup_s = time.monotonic() - t_start
    time.sleep(1.0)
    rs = runner.receiver

    def paced_phase(rate_now: int, n: int, offset: int) -> dict[str, Any]:
        time.sleep(1.0)
        with lock:
            lat_pub.clear()
            counter["n"], counter["target"] = 0, 10**12
        rs.to_operator.__init__()
        rs.to_host.__init__()
        t0 = time.perf_counter()
        for k in range(n):
            wait = t0 + k / rate_now - time.perf_counter()
            if wait > 0:
                time.sleep(wait)  # a real source waits on I/O (GIL released), it does not spin
            runner.process(_reading(offset + k, time.time_ns()))
        fed_s = time.perf_counter() - t0
        end = time.monotonic() + 30
        while counter["n"] < n and time.monotonic() < end:
            time.sleep(0.01)
        with lock:
            to_pub = summary_ms(lat_pub) if lat_pub else None
        lines = runner.feeder.counts["lines"]
        return {"rate": rate_now, "events": n, "fed_per_s": round(n / fed_s, 1), "received": counter["n"],
                "to_publish": to_pub, **rs.stats(), "feeder_lines_total": lines}

    low = paced_phase(1_000, int(1_000 * seconds), i)
    paced = paced_phase(rate, int(rate * seconds), i + 10**6)
    # saturation
    with lock:
        counter["n"], counter["target"] = 0, 20_000
        got.clear()
    t0 = time.perf_counter()
    for k in range(20_000):
        runner.process(_reading(k, time.time_ns()))
    got.wait(60)
    sat_rate = counter["n"] / (time.perf_counter() - t0)
    feeder = dict(runner.feeder.counts)
    runner.finish(end_of_input=True)
    pub.close()
    tp = paced["to_publish"] or {}
    op = paced["feed_to_operator"]
    return {
        "target": "flink", "mode": "local mini-cluster, thread mode, bundle 1, buffer timeout 0",
        "max_batch": pc.flink.max_batch, "batch_wait_ms": pc.flink.batch_wait_ms,
        "feeder_events": feeder["sent"], "feeder_lines": feeder["lines"],
        "feeder_largest_batch": feeder["largest_batch"],
        "startup_s": round(startup_s, 2), "job_connected_s": runner.startup_s,
        "to_operator_p50_ms": op["p50_ms"], "to_operator_p99_ms": op["p99_ms"],
        "to_publish_p50_ms": tp.get("p50_ms"), "to_publish_p99_ms": tp.get("p99_ms"),
        "events_per_s": round(sat_rate, 1), "paced_rate": rate, "paced": paced, "paced_1000": low,
        "baseline_embedded_process": summary_ms(base), "baseline_zmq_publish": summary_ms(pub_ms),
        "to_publish_p99_over_embedded_p99": round((tp.get("p99_ms") or 0) / max(summary_ms(base)["p99_ms"], 1e-9), 1),
        "target_to_publish_p99_ms": 10.0, "meets_target": bool(tp and tp["p99_ms"] <= 10.0 and sat_rate >= rate),
        "load_avg_1m": round(__import__("os").getloadavg()[0], 2),
    }
