"""The paced half of ``rsu bench kafka-flink``: the fleet's boxes write to Kafka at a set rate (below the job's
saturation), a reader takes the results; end-to-end latency, and recovery from a TaskManager killed mid-run.

Event times are the readings' scheduled send times (wall clock), so a result's latency is its arrival at the
reader minus when its reading was due to be sent: a producer that falls behind shows as latency, not as a lower
rate. ``missing`` and ``duplicated`` count ``(device, seq)`` against the embedded runner on the same readings:
``seq`` counts per operator key, so the embedded runner's n-th result of a device is seq n.
"""

from __future__ import annotations

import os
import signal
import tempfile
import time
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np

from rsu.bench.kafka_flink_fleet import DEVICES, readings, window_operator
from rsu.config.pipeline import PipelineConfig
from rsu.pipeline.embedded import EmbeddedRunner

__all__ = ["job_config", "paced_run", "OUT_OF_ORDERNESS_MS", "BOX_LINGER_MS"]

BOX_LINGER_MS = 20
"""The boxes' ``publish.kafka.linger_ms`` here: sixteen boxes share this machine's cores with the broker and the
cluster, and each produce request costs the broker the same whether it holds one record or forty."""

OUT_OF_ORDERNESS_MS = 20
"""The boxes write each partition in event-time order (one producer per box, keyed): the watermark needs no
more slack than the watermark interval."""


def job_config(bootstrap: str, address: str, tmp: Path, *, inputs: str, tag: str, parallelism: int, bounded: bool,
               delivery: str = "exactly_once") -> PipelineConfig:
    kafka = {"bootstrap_servers": bootstrap, "topic_prefix": inputs, "output_prefix": f"out-{tag}",
             "group_id": f"g-{tag}", "transactional_id_prefix": f"tx-{tag}", "bounded": bounded,
             "starting_offsets": "earliest", "checkpoint_dir": tmp / tag, "delivery": delivery}
    return PipelineConfig.model_validate({"idle_timeout_ms": 30_000, "out_of_orderness_ms": OUT_OF_ORDERNESS_MS,
                                          "flink": {"address": address, "parallelism": parallelism,
                                                    "kafka": kafka}})


def _expected(items: list[tuple[str, Any]], cutoff_ns: int) -> dict[str, list[int]]:
    """Device -> event times of the embedded runner's results (in seq order) up to ``cutoff_ns``."""
    out: dict[str, list[int]] = {}
    for p in EmbeddedRunner([window_operator()]).run([r for _, r in items]):
        out.setdefault(p.device, []).append(p.t_event_ns)
    return {d: [t for t in ts if t <= cutoff_ns] for d, ts in out.items()}


def _count(records: list[tuple], expected: dict[str, list[int]], cutoff_ns: int) -> dict[str, int]:
    seen: Counter[tuple[str, int]] = Counter()
    mismatched = 0
    for r in records:
        env = r[3]
        if env["t_event"] > cutoff_ns:
            continue
        key = (env["device"], int(env["seq"]))
        seen[key] += 1
        times = expected.get(env["device"], [])
        if seen[key] == 1 and (key[1] > len(times) or times[key[1] - 1] != env["t_event"]):
            mismatched += 1
    missing = sum(1 for d, ts in expected.items() for s in range(1, len(ts) + 1) if (d, s) not in seen)
    return {"missing": missing, "duplicated": sum(n - 1 for n in seen.values()), "mismatched": mismatched,
            "expected": sum(len(ts) for ts in expected.values())}


def paced_run(bootstrap: str, cluster: Any, jars: list[Path], tmp: Path, *, rate: float, seconds: float,
              delivery: str, kill: bool = False, wait_s: float = 300.0) -> dict[str, Any]:
    """One job of parallelism 2 fed at ``rate`` readings/s for ``seconds``; with ``kill``, a TaskManager gets
    SIGKILL halfway and the run goes on as long again after it."""
    from rsu.pipeline.flink.consumer import result_topics
    from rsu.pipeline.flink.harness import FleetProducer, ResultCollector, job_state, wait_for
    from rsu.pipeline.flink.kafka_job import submit_kafka_job

    tag = f"e2e-{delivery}-{uuid.uuid4().hex[:6]}"
    pc = job_config(bootstrap, cluster.address, tmp, inputs=f"in-{tag}", tag=tag, parallelism=2, bounded=False,
                    delivery=delivery)
    collector = ResultCollector(bootstrap, result_topics(f"out-{tag}"))
    client, _ = submit_kafka_job([window_operator()], pc, jars, job_name=f"bench-{delivery}")
    job = str(client.get_job_id())
    try:
        wait_for(lambda: job_state(cluster.address, job) == "RUNNING", "the job to run", wait_s)
        now = time.time_ns()
        warm = readings(4 * len(DEVICES), now - 4 * 10**9, spacing_ns=10_000_000)  # 3 s of event time, in the past
        n = int(rate * seconds * (2 if kill else 1))
        killed: list[int] = []
        with tempfile.TemporaryDirectory(prefix="rsu-bench-journal-") as journal, \
                FleetProducer(bootstrap, f"in-{tag}", Path(journal), linger_ms=BOX_LINGER_MS) as boxes:
            for site, reading in warm:
                boxes.publish(site, reading)
            wait_for(boxes.online, "every box's first acknowledgement", wait_s)
            wait_for(lambda: len(collector) > 0, "the warm-up results", wait_s)
            t0 = time.time_ns() + 200_000_000
            items = readings(n, t0, spacing_ns=int(1e9 / rate), start=len(warm))
            for i, (site, reading) in enumerate(items):
                while time.time_ns() < reading.t_event_ns:
                    time.sleep(0.0005)
                boxes.publish(site, reading)
                if kill and i == n // 2:
                    os.kill(cluster.taskmanager_pids()[0], signal.SIGKILL)
                    killed.append(time.time_ns())
        cutoff = items[-1][1].t_event_ns - 1_000_000_000  # final by then: the watermark passed it
        expected = _expected(warm + items, cutoff)
        total = sum(len(ts) for ts in expected.values())
        wait_for(lambda: sum(1 for r in collector.snapshot() if r[3]["t_event"] <= cutoff) >= total,
                 f"{total} results", wait_s, lambda: f"{len(collector)} arrived")
    finally:
        try:
            client.cancel().result()
        except Exception:  # noqa: BLE001 - already failed or finished: nothing to cancel
            pass
        collector.close()
    records = collector.snapshot()
    t_kill = killed[0] if killed else None
    lat = [(r[5] - r[3]["t_event"]) / 1e6 for r in records
           if r[3]["t_event"] >= t0 and (t_kill is None or r[3]["t_event"] < t_kill - 1_000_000_000)]
    recovery = None
    if t_kill is not None:
        after = [r[5] for r in records if r[3]["t_publish"] > t_kill]
        recovery = (min(after) - t_kill) / 1e9 if after else None
    p50, p99 = (float(v) for v in np.percentile(lat, [50, 99])) if lat else (float("nan"), float("nan"))
    return {"rate_per_s": round(rate, 1), "p50_ms": round(p50, 1), "p99_ms": round(p99, 1), "samples": len(lat),
            "recovery_s": None if recovery is None else round(recovery, 2), **_count(records, expected, cutoff)}
