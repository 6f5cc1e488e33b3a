"""Scale-out: box -> Kafka -> the Flink job (parallelism 2, on a standalone cluster of two TaskManagers)
-> Kafka -> a read_committed reader. Same products as the embedded runner on the same recordings; a
TaskManager killed with SIGKILL mid-stream costs nothing: every result exactly once.

Starts its own broker (the jars of `rsu kafka fetch`) and cluster (the wheel), and needs the connector jar
(`rsu flink fetch`); run in the Flink venv (docs/scale-out.md, "Tests"). Skipped, saying why, without them.
"""

from __future__ import annotations

import dataclasses
import os
import shutil
import signal
import subprocess
import sys
import time
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("pyflink", reason="pyflink not importable: install the flink extra (rsu[flink]) in its own venv")
if shutil.which("java") is None:
    pytest.skip("java not on PATH (Flink and the Kafka broker need Java 17)", allow_module_level=True)

from pipeline_helpers import assert_same_products, recording, sort_key  # noqa: E402

from rsu.config import parse_config  # noqa: E402
from rsu.kafka.jars import JarsError, libs_dir, pinned  # noqa: E402
from rsu.pipeline.assemble import operators_from_config  # noqa: E402
from rsu.pipeline.embedded import EmbeddedRunner  # noqa: E402
from rsu.pipeline.fault_op import FaultWindowOperator  # noqa: E402
from rsu.pipeline.flink.cluster import StandaloneCluster  # noqa: E402
from rsu.pipeline.flink.connector import connector_jars  # noqa: E402
from rsu.pipeline.flink.consumer import result_topics  # noqa: E402
from rsu.pipeline.flink.harness import ResultCollector, checkpoints, job_state, produce, wait_for  # noqa: E402
from rsu.pipeline.flink.kafka_job import submit_kafka_job  # noqa: E402

pytestmark = pytest.mark.flink
WAIT_S = 240.0  # generous: a loaded 2-core machine; nothing here measures time


@pytest.fixture(scope="module")
def jars() -> list[Path]:
    try:
        return connector_jars()
    except JarsError as exc:
        pytest.skip(str(exc))


@pytest.fixture(scope="module")
def broker(tmp_path_factory: pytest.TempPathFactory):  # noqa: ANN201
    from rsu.kafka.broker import running_broker

    missing = [n for n in pinned() if not (libs_dir() / n).is_file()]
    if missing:
        pytest.skip(f"Kafka jars not fetched ({libs_dir()}): run `rsu kafka fetch`")
    with running_broker(tmp_path_factory.mktemp("kafka"), partitions=2) as b:
        yield b


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory, jars):  # noqa: ANN001, ANN201
    with StandaloneCluster(tmp_path_factory.mktemp("flink"), taskmanagers=2, slots=2) as c:
        yield c


def _now_shifted(products: list[Any]) -> list[Any]:
    """The recording moved to the present (whole seconds), so the broker's time retention keeps it."""
    shift = (time.time_ns() - products[0].t_event_ns) // 1_000_000_000 * 1_000_000_000
    return sorted((dataclasses.replace(p, t_event_ns=p.t_event_ns + shift) for p in products),
                  key=lambda p: p.t_event_ns)


@pytest.fixture(scope="module")
def sites(tmp_path_factory: pytest.TempPathFactory) -> list[tuple[str, Any, list[Any], list[Any]]]:
    """Three recorded sites: (site, config, operators, products in event order)."""
    from rsu.plugins.manager import create_plugin_manager
    from rsu.plugins.registry import collect_models
    from rsu.sources.sensor_replay import iter_readings

    out = []
    for seed in (3, 4):
        cfg, products = recording(tmp_path_factory.mktemp(f"intersection-{seed}"), seconds=6.0, seed=seed)
        out.append((f"crossing-{seed}", cfg, operators_from_config(cfg), _now_shifted(products)))
    rec = tmp_path_factory.mktemp("furnace")
    subprocess.run([sys.executable, "-m", "rsu", "simulate", "furnace", "--out", str(rec), "--seconds", "90",
                    "--seed", "5", "--devices", "2"], check=True, capture_output=True, timeout=120)
    loaded = create_plugin_manager(["furnace_fault"])
    loaded.require_enabled()
    spec = collect_models(loaded.pm)["fault-lstm"]
    plant = parse_config({"site": {"name": "plant", "lat": 0, "lon": 0}})
    out.append(("plant", plant, [FaultWindowOperator(spec)], _now_shifted(list(iter_readings(rec, source="furnaces")))))
    return out


def _job_config(cfg: Any, broker: Any, tmp: Path, address: str, *, bounded: bool, tag: str) -> Any:
    kafka = {"bootstrap_servers": broker.bootstrap, "topic_prefix": f"in-{tag}", "output_prefix": f"out-{tag}",
             "group_id": f"job-{tag}", "transactional_id_prefix": f"tx-{tag}", "bounded": bounded,
             "checkpoint_dir": tmp / "checkpoints", "checkpoint_interval_ms": 1000, "starting_offsets": "earliest"}
    flink = cfg.pipeline.flink.model_copy(update={"address": address, "parallelism": 2,
                                                  "kafka": cfg.pipeline.flink.kafka.model_validate(kafka)})
    # idle partitions release the watermark only after 30 s: a loaded machine may stall a reader for seconds,
    # and a busy partition taken for idle would make its records late
    return cfg.pipeline.model_copy(update={"flink": flink, "idle_timeout_ms": 30_000.0})


def test_parity_three_sites_embedded_vs_kafka_flink(sites, broker, cluster, jars, tmp_path: Path) -> None:  # noqa: ANN001
    for site, cfg, operators, products in sites:
        tag = f"{site}-{uuid.uuid4().hex[:6]}"
        embedded = sorted(EmbeddedRunner(operators).run(products), key=sort_key)
        assert embedded, site
        stats = produce(broker.bootstrap, f"in-{tag}", site, products)
        assert stats["delivered"] == len(products), stats
        pc = _job_config(cfg, broker, tmp_path / site, cluster.address, bounded=True, tag=tag)
        collector = ResultCollector(broker.bootstrap, result_topics(f"out-{tag}"))
        try:
            client, restored = submit_kafka_job(operators, pc, jars, job_name=f"parity-{site}")
            assert restored is None
            client.get_job_execution_result().result()
            assert job_state(cluster.address, str(client.get_job_id())) == "FINISHED"
            wait_for(lambda: len(collector) >= len(embedded), f"{len(embedded)} results of {site}", 60.0,
                     lambda: f"{len(collector)} arrived")
        finally:
            collector.close()
        got = sorted(collector.products(), key=sort_key)
        assert_same_products(got, embedded)
        seqs = Counter(r[3]["seq"] for r in collector.snapshot())
        assert max(seqs.values()) <= 2 if site == "plant" else max(seqs.values()) == 1


def _identity(record: tuple) -> tuple:  # noqa: ANN001
    """What makes a result itself: its topic, its key's seq, and the payload without the publish time."""
    topic, _, _, env, _, _ = record
    return topic, env["source"], env.get("device", ""), env["seq"], env["t_event"]


def test_taskmanager_killed_mid_stream_every_result_exactly_once(sites, broker, cluster, jars,
                                                                 tmp_path: Path) -> None:  # noqa: ANN001
    """An unbounded job fed at the recording's pace: one TaskManager gets SIGKILL once results flow; the job
    restarts from its last checkpoint on the other one, and a read_committed reader sees each result the
    embedded runner gives exactly once. A second submit after cancelling restores from the kept checkpoint."""
    import threading

    site, cfg, operators, products = sites[0]
    tag = f"kill-{uuid.uuid4().hex[:6]}"
    embedded = sorted(EmbeddedRunner(operators).run(products), key=sort_key)
    cutoff = products[-1].t_event_ns - 2_000_000_000  # final by then: the watermark passed it
    expected = [p for p in embedded if p.t_event_ns <= cutoff]
    pc = _job_config(cfg, broker, tmp_path, cluster.address, bounded=False, tag=tag)
    collector = ResultCollector(broker.bootstrap, result_topics(f"out-{tag}"))
    client, _ = submit_kafka_job(operators, pc, jars, job_name="kill-a-taskmanager")
    job_id = str(client.get_job_id())
    try:
        wait_for(lambda: job_state(cluster.address, job_id) == "RUNNING", "the job to run", WAIT_S)
        t0 = time.monotonic()
        span = products[-1].t_event_ns - products[0].t_event_ns

        def pace(_i: int, p: Any) -> None:  # the recording's own pace (at least 20 ms between products)
            due = t0 + (p.t_event_ns - products[0].t_event_ns) / span * 10.0
            while time.monotonic() < due:
                time.sleep(0.02)

        feeder = threading.Thread(target=produce, args=(broker.bootstrap, f"in-{tag}", site, products),
                                  kwargs={"pace": pace}, daemon=True)
        feeder.start()
        wait_for(lambda: len(collector) >= max(3, len(expected) // 5), "the first committed results", WAIT_S)
        victim = cluster.taskmanager_pids()[0]
        os.kill(victim, signal.SIGKILL)
        feeder.join(WAIT_S)
        wanted = {(type(p).__name__, p.t_event_ns) for p in expected}
        wait_for(lambda: wanted <= {(type(p).__name__, p.t_event_ns) for p in collector.products()},
                 f"the {len(expected)} expected results after the kill", WAIT_S)
        wait_for(lambda: (checkpoints(cluster.address, job_id).get("latest") or {}).get("restored") is not None,
                 "the job to report the checkpoint it restored after the kill", WAIT_S)
        client.cancel().result()
    finally:
        collector.close()
    records = collector.snapshot()
    ids = Counter(_identity(r) for r in records)
    assert max(ids.values()) == 1, [k for k, n in ids.items() if n > 1][:5]
    got = sorted((p for p in collector.products() if p.t_event_ns <= cutoff), key=sort_key)
    assert_same_products(got, expected)
    # restarting the job restores the latest retained checkpoint
    pc2 = pc.model_copy(update={"flink": pc.flink.model_copy(update={"kafka": pc.flink.kafka.model_copy(
        update={"restore": True})})})
    client2, restored = submit_kafka_job(operators, pc2, jars, job_name="kill-a-taskmanager-again")
    try:
        assert restored is not None and restored.name.startswith("chk-")
        job2 = str(client2.get_job_id())
        wait_for(lambda: (checkpoints(cluster.address, job2).get("latest") or {}).get("restored") is not None,
                 "the second job to report its restored checkpoint", WAIT_S)
    finally:
        client2.cancel().result()
    cluster.add_taskmanager()
    assert cluster.wait_taskmanagers(2, WAIT_S)


def test_result_source_hands_on_products_and_skips_bad_records(broker) -> None:  # noqa: ANN001
    """The box-side reader of the result topics: decoded SDK products to ``emit``; a record that is not a v1
    envelope, or of an unknown schema, is counted and skipped without stopping it; a repeat of a key's seq (an
    at-least-once job restarted from a checkpoint) is dropped and counted."""
    import threading

    from confluent_kafka import Producer
    from rsu_sdk import Prediction

    from rsu.pipeline.flink.consumer import ResultSource
    from rsu.pipeline.flink.records import RecordError, from_envelope, to_envelope

    topic = f"out-{uuid.uuid4().hex[:6]}.fault"
    good = [Prediction(source="fault_prediction", t_event_ns=1_000 + i, device=f"d{i % 2}", model="m",
                       score=i / 10) for i in range(5)]
    producer = Producer({"bootstrap.servers": broker.bootstrap})
    for i, p in enumerate(good):
        producer.produce(topic, to_envelope(p, "plant", i + 1, "b").encode(), key=b"0|k")
        if i == 2:
            producer.produce(topic, b"{not json", key=b"0|k")
            producer.produce(topic, b'{"schema": "rsu.nothing/9", "t_event": 1}', key=b"0|k")
            for j in range(2):  # written again after a restart: same key, same seq
                producer.produce(topic, to_envelope(good[j], "plant", j + 1, "b").encode(), key=b"0|k")
    assert producer.flush(60) == 0
    del producer
    with pytest.raises(RecordError, match=r"where: schema 'rsu.nothing/9' is not one of"):
        from_envelope(b'{"schema": "rsu.nothing/9"}', "where")
    got: list[Any] = []
    stop = threading.Event()
    source = ResultSource("results", broker.bootstrap, [topic])
    thread = threading.Thread(target=source.run, args=(got.append, stop), daemon=True)
    thread.start()
    try:
        wait_for(lambda: len(got) == len(good) and source.stats().get("bad", 0) == 2
                 and source.stats().get("repeats", 0) == 2, "5 products, 2 bad, 2 repeats", WAIT_S,
                 lambda: str(source.stats()))
    finally:
        stop.set()
        thread.join(30)
    assert got == good  # one key: one partition, in order
    assert source.stats()["received"] == 5 and source.stats()["per_topic"] == {topic: 5}
