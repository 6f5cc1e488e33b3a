"""``rsu bench kafka-flink``: boxes -> Kafka -> the Flink job -> Kafka -> a reader, on a broker (4 partitions) and
a two-TaskManager standalone cluster that the benchmark starts itself (jars and the job module: ``rsu kafka
fetch``, ``rsu flink fetch``; the flink extra). The same readings for every runner: the fleet of
:mod:`rsu.bench.kafka_flink_fleet` (76 devices from 16 boxes) through the per-device window operator.

- ``embedded_events_per_s``: the embedded runner on the readings (the baseline, same run);
- ``p1_events_per_s`` / ``p2_events_per_s``: saturation at parallelism 1 and 2: the readings are in Kafka first,
  a bounded job reads them; the rate from the results' job-side ``t_publish`` (first to last), so start-up and
  the final commit are not counted; ``events_per_cpu_s``: the same results over the CPU time every process of
  the cluster and the broker spent between those instants (``/proc``); ``records_per_subtask``: what each
  subtask of the keyed step read (Flink's REST metrics);
- ``e2e_p50_ms`` / ``e2e_p99_ms``: readings paced at ``load_fraction`` of p2's saturation, exactly once (results
  visible at each checkpoint), ``e2e_low_latency_*`` the same at least once; ``latency_by_load``: the low-latency
  mode at 25/50/75 % (not with ``quick``);
- ``recovery_s``: in the exactly-once run a TaskManager gets SIGKILL halfway; the time until the first result
  written after it reaches the reader; ``missing`` / ``duplicated`` by ``(device, seq)`` against the embedded
  runner on the same readings.
"""

from __future__ import annotations

import os
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from rsu.bench.kafka_flink_fleet import DEVICES, readings, window_operator
from rsu.bench.kafka_flink_paced import OUT_OF_ORDERNESS_MS, job_config, paced_run
from rsu.bench.proc_cpu import CpuSampler
from rsu.pipeline.embedded import EmbeddedRunner

PARTITIONS = 4


def _saturation(bootstrap: str, cluster: Any, jars: list[Path], tmp: Path, inputs: str, n: int, parallelism: int,
                cpu: CpuSampler) -> dict[str, Any]:
    from rsu.pipeline.flink.consumer import result_topics
    from rsu.pipeline.flink.harness import ResultCollector, records_per_subtask, wait_for
    from rsu.pipeline.flink.kafka_job import submit_kafka_job

    tag = f"sat{parallelism}-{uuid.uuid4().hex[:6]}"
    collector = ResultCollector(bootstrap, result_topics(f"out-{tag}"))
    try:
        pc = job_config(bootstrap, cluster.address, tmp, inputs=inputs, tag=tag, parallelism=parallelism,
                        bounded=True)
        client, _ = submit_kafka_job([window_operator()], pc, jars, job_name=f"bench-p{parallelism}")
        client.get_job_execution_result().result()
        expected = n - len(DEVICES)  # one result per reading once a device's window is full
        wait_for(lambda: len(collector) >= expected, f"{expected} results", 300.0, lambda: f"{len(collector)}")
        per_subtask = records_per_subtask(cluster.address, str(client.get_job_id()), "batch-on-watermark")
    finally:
        collector.close()
    stamps = sorted(r[3]["t_publish"] for r in collector.snapshot())
    span_s = (stamps[-1] - stamps[0]) / 1e9
    cpu_s = cpu.cpu_between(stamps[0], stamps[-1])
    return {"events_per_s": len(stamps) / span_s if span_s > 0 else float("nan"),
            "events_per_cpu_s": len(stamps) / cpu_s if cpu_s > 0 else float("nan"),
            "records_per_subtask": per_subtask}


def run(quick: bool = False, load_fraction: float = 0.5) -> dict[str, Any]:
    from rsu.kafka.broker import running_broker
    from rsu.pipeline.flink.cluster import JAVA_OPTIONS, StandaloneCluster
    from rsu.pipeline.flink.connector import connector_jars
    from rsu.pipeline.flink.harness import produce_sites

    jars = connector_jars()
    n = 30_000 if quick else 80_000
    items = readings(n, time.time_ns() // 1_000_000 * 1_000_000 - n * 1_000_000)
    events = [r for _, r in items]
    t = time.perf_counter()
    EmbeddedRunner([window_operator()]).run(events)
    embedded = n / (time.perf_counter() - t)
    with tempfile.TemporaryDirectory(prefix="rsu-bench-kf-") as tmp_s:
        tmp = Path(tmp_s)
        with running_broker(tmp / "kafka", partitions=PARTITIONS, java_options=(JAVA_OPTIONS,)) as broker, \
                StandaloneCluster(tmp / "flink", taskmanagers=2, slots=2) as cluster:
            cpu = CpuSampler(lambda: [*cluster.pids(), *([broker.pid()] if broker.pid() else [])]).start()
            try:
                inputs = f"in-sat-{uuid.uuid4().hex[:6]}"
                produce_sites(broker.bootstrap, inputs, items)
                p1 = _saturation(broker.bootstrap, cluster, jars, tmp, inputs, n, 1, cpu)
                p2 = _saturation(broker.bootstrap, cluster, jars, tmp, inputs, n, 2, cpu)
            finally:
                cpu.stop()
            rate = load_fraction * p2["events_per_s"]
            seconds = 6.0 if quick else 10.0
            low = paced_run(broker.bootstrap, cluster, jars, tmp, rate=rate, seconds=seconds, delivery="at_least_once")
            by_load = {}
            if not quick:
                for fraction in (0.25, 0.75):
                    by_load[f"{int(fraction * 100)}%"] = paced_run(
                        broker.bootstrap, cluster, jars, tmp, rate=fraction * p2["events_per_s"], seconds=seconds,
                        delivery="at_least_once")
            by_load[f"{int(load_fraction * 100)}%"] = low
            exact = paced_run(broker.bootstrap, cluster, jars, tmp, rate=rate, seconds=seconds,
                              delivery="exactly_once", kill=True)
    p1r, p2r = p1["events_per_s"], p2["events_per_s"]
    return {
        "embedded_events_per_s": round(embedded, 1), "p1_events_per_s": round(p1r, 1),
        "p2_events_per_s": round(p2r, 1), "p1_over_embedded": round(p1r / embedded, 3),
        "scaling_p2_over_p1": round(p2r / p1r, 3) if p1r else None,
        "events_per_cpu_s": {"p1": round(p1["events_per_cpu_s"], 1), "p2": round(p2["events_per_cpu_s"], 1)},
        "records_per_subtask": {"p1": p1["records_per_subtask"], "p2": p2["records_per_subtask"]},
        "e2e_p50_ms": exact["p50_ms"], "e2e_p99_ms": exact["p99_ms"],
        "e2e_low_latency_p50_ms": low["p50_ms"], "e2e_low_latency_p99_ms": low["p99_ms"],
        "e2e_rate_per_s": round(rate, 1), "load_fraction": load_fraction,
        "latency_by_load": {k: {"rate_per_s": v["rate_per_s"], "p50_ms": v["p50_ms"], "p99_ms": v["p99_ms"]}
                            for k, v in sorted(by_load.items())},
        "recovery_s": exact["recovery_s"], "missing": exact["missing"], "duplicated": exact["duplicated"],
        "mismatched": exact["mismatched"], "e2e_samples": exact["samples"],
        "low_latency_repeats": low["duplicated"], "low_latency_missing": low["missing"],
        "events": n, "devices": len(DEVICES), "partitions": PARTITIONS, "taskmanagers": 2,
        "out_of_orderness_ms": OUT_OF_ORDERNESS_MS, "cpus": os.cpu_count(),
    }
