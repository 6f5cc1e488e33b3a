"""``rsu bench kafka-flink``: box -> Kafka -> the Flink job -> Kafka -> a read_committed reader, on a broker and
a two-TaskManager standalone cluster that the benchmark starts itself (jars: ``rsu kafka fetch``,
``rsu flink fetch``; the flink extra).

Events: SensorReadings of 8 devices, one per ms of event time, through the per-device window operator (no
model: the cost measured is the runner's). Reported:

- ``p1_events_per_s`` / ``p2_events_per_s``: saturation at parallelism 1 and 2 -- the events are in Kafka
  first, a bounded job reads them; the rate is taken from the results' job-side ``t_publish`` (first to
  last), so start-up and the final commit are not counted;
- ``embedded_events_per_s``: the embedded runner on the same events (the baseline, same run);
- ``e2e_p50_ms`` / ``e2e_p99_ms``: producer -> read_committed reader at 1,000 events/s (parallelism 2);
  results become visible at checkpoints (``checkpoint_interval_ms``), which dominates;
- ``recovery_s``: a TaskManager killed (SIGKILL) during that run -> the first result the restarted job
  wrote arrives at the reader.
"""

from __future__ import annotations

import dataclasses
import os
import signal
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import numpy as np
from rsu_sdk import SensorReading

from rsu.config.pipeline import PipelineConfig
from rsu.pipeline.embedded import EmbeddedRunner
from rsu.pipeline.window_op import DeviceWindowOperator

CHANNELS = ("a", "b", "c", "d")
DEVICES = 8


def _readings(n: int, t0: int) -> list[SensorReading]:
    return [SensorReading(source="bench", t_event_ns=t0 + i * 1_000_000, device=f"d{i % DEVICES}",
                          values={"a": float(i % 7), "b": 1.0, "c": float(i % 3), "d": 0.5}) for i in range(n)]


def _op() -> DeviceWindowOperator:
    return DeviceWindowOperator(CHANNELS, window=2, stride=1)


def _pc(bootstrap: str, address: str, tmp: Path, tag: str, parallelism: int, bounded: bool) -> PipelineConfig:
    kafka = {"bootstrap_servers": bootstrap, "topic_prefix": f"in-{tag}", "output_prefix": f"out-{tag}",
             "group_id": f"g-{tag}", "transactional_id_prefix": f"tx-{tag}", "bounded": bounded,
             "starting_offsets": "earliest", "checkpoint_dir": tmp / tag, "checkpoint_interval_ms": 500}
    return PipelineConfig.model_validate({"idle_timeout_ms": 30_000, "flink": {
        "address": address, "parallelism": parallelism, "kafka": kafka}})


def _saturation(bootstrap: str, cluster: Any, jars: list[Path], tmp: Path, events: list[SensorReading],
                parallelism: int) -> float:
    from rsu.pipeline.flink.consumer import result_topics
    from rsu.pipeline.flink.harness import ResultCollector, produce, wait_for
    from rsu.pipeline.flink.kafka_job import submit_kafka_job

    tag = f"sat{parallelism}-{uuid.uuid4().hex[:6]}"
    produce(bootstrap, f"in-{tag}", "bench", events)
    collector = ResultCollector(bootstrap, result_topics(f"out-{tag}"))
    try:
        client, _ = submit_kafka_job([_op()], _pc(bootstrap, cluster.address, tmp, tag, parallelism, True), jars,
                                     job_name=f"bench-p{parallelism}")
        client.get_job_execution_result().result()
        expected = len(events) - DEVICES  # one result per reading once a device's window is full
        wait_for(lambda: len(collector) >= expected, f"{expected} results", 300.0, lambda: f"{len(collector)}")
    finally:
        collector.close()
    stamps = np.array([r[3]["t_publish"] for r in collector.snapshot()], dtype=np.int64)
    span_s = (stamps.max() - stamps.min()) / 1e9
    return len(stamps) / span_s if span_s > 0 else float("nan")


def _latency_and_recovery(bootstrap: str, cluster: Any, jars: list[Path], tmp: Path, seconds: float,
                          rate: float = 1_000.0) -> tuple[list[float], float | None]:
    from rsu.pipeline.flink.consumer import result_topics
    from rsu.pipeline.flink.harness import ResultCollector, job_state, produce, wait_for
    from rsu.pipeline.flink.kafka_job import submit_kafka_job

    tag = f"e2e-{uuid.uuid4().hex[:6]}"
    n = int(seconds * rate)
    events = _readings(n, time.time_ns() // 1_000_000 * 1_000_000)
    sent: dict[tuple[str, int], int] = {}
    collector = ResultCollector(bootstrap, result_topics(f"out-{tag}"))
    client, _ = submit_kafka_job([_op()], _pc(bootstrap, cluster.address, tmp, tag, 2, False), jars,
                                 job_name="bench-e2e")
    job = str(client.get_job_id())
    try:
        wait_for(lambda: job_state(cluster.address, job) == "RUNNING", "the job to run", 300.0)
        # warm up (tasks deployed, first checkpoint), then pace at ``rate``
        warm = [dataclasses.replace(r, t_event_ns=events[0].t_event_ns - 4 * 10**9 + i * 100_000_000)
                for i, r in enumerate(_readings(4 * DEVICES, 0))]  # 3.2 s of event time: past the watermark
        produce(bootstrap, f"in-{tag}", "bench", warm)
        wait_for(lambda: len(collector) > 0, "the warm-up results", 300.0)
        warmed = len(collector)
        t0 = time.monotonic()

        def pace(i: int, p: SensorReading) -> None:
            while time.monotonic() < t0 + i / rate:
                time.sleep(0.0005)
            sent[(p.device, p.t_event_ns)] = time.time_ns()

        feeder = threading.Thread(target=produce, args=(bootstrap, f"in-{tag}", "bench", events),
                                  kwargs={"pace": pace}, daemon=True)
        feeder.start()
        feeder.join()
        tail = int(rate * 0.5)  # the last ~out-of-orderness of events waits for a later watermark
        wait_for(lambda: len(collector) >= warmed + n - tail, f"{n - tail} results", 300.0,
                 lambda: f"{len(collector) - warmed}")
        lat = [(r[5] - sent[k]) / 1e6 for r in collector.snapshot()
               if (k := (r[3]["device"], r[3]["t_event"])) in sent]
        # recovery: kill a TaskManager, keep feeding, time until a result written after the kill arrives
        before = len(collector)
        t_kill = time.time_ns()
        os.kill(cluster.taskmanager_pids()[0], signal.SIGKILL)
        more = _readings(int(30 * rate), events[-1].t_event_ns + 1_000_000)
        t1 = time.monotonic()

        def pace2(i: int, _p: SensorReading) -> None:
            while time.monotonic() < t1 + i / rate:
                time.sleep(0.0005)

        threading.Thread(target=produce, args=(bootstrap, f"in-{tag}", "bench", more), kwargs={"pace": pace2},
                         daemon=True).start()
        recovered: float | None = None
        end = time.monotonic() + 120.0
        while recovered is None and time.monotonic() < end:
            for r in collector.snapshot()[before:]:
                if r[3]["t_publish"] > t_kill:
                    recovered = (r[5] - t_kill) / 1e9
                    break
            time.sleep(0.05)
        return lat, recovered
    finally:
        try:
            client.cancel().result()
        except Exception:  # noqa: BLE001 - already failed or finished: nothing to cancel
            pass
        collector.close()


def run(quick: bool = False) -> dict[str, Any]:
    from rsu.kafka.broker import running_broker
    from rsu.pipeline.flink.cluster import StandaloneCluster
    from rsu.pipeline.flink.connector import connector_jars

    jars = connector_jars()
    n = 20_000 if quick else 60_000
    events = _readings(n, time.time_ns() // 1_000_000 * 1_000_000 - n * 1_000_000)
    t = time.perf_counter()
    EmbeddedRunner([_op()]).run(events)
    embedded = n / (time.perf_counter() - t)
    with tempfile.TemporaryDirectory(prefix="rsu-bench-kf-") as tmp_s:
        tmp = Path(tmp_s)
        with running_broker(tmp / "kafka", partitions=2) as broker, \
                StandaloneCluster(tmp / "flink", taskmanagers=2, slots=2) as cluster:
            p1 = _saturation(broker.bootstrap, cluster, jars, tmp, events, 1)
            p2 = _saturation(broker.bootstrap, cluster, jars, tmp, events, 2)
            lat, recovery = _latency_and_recovery(broker.bootstrap, cluster, jars, tmp, 5.0 if quick else 10.0)
    p50, p99 = (float(v) for v in np.percentile(lat, [50, 99])) if lat else (float("nan"), float("nan"))
    return {"p1_events_per_s": round(p1, 1), "p2_events_per_s": round(p2, 1),
            "scaling_p2_over_p1": round(p2 / p1, 3) if p1 else None,
            "embedded_events_per_s": round(embedded, 1), "e2e_p50_ms": round(p50, 2), "e2e_p99_ms": round(p99, 2),
            "recovery_s": None if recovery is None else round(recovery, 2),
            "events": n, "e2e_samples": len(lat), "checkpoint_interval_ms": 500, "taskmanagers": 2,
            "cpus": os.cpu_count()}
