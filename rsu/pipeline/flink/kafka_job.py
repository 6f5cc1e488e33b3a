"""Build and submit the Kafka-fed job (``rsu flink submit``): the operators between product and result topics.

Graph (docs/scale-out.md): KafkaSource on ``<topic_prefix>.<product>`` (values as bytes; record timestamps are
event times, so watermarks are per partition, bounded out-of-orderness, idle partitions released after
``pipeline.idle_timeout_ms``) -> the JVM module ``deploy/flink/job`` (``rsu.flink.KafkaJob``): route by schema
and key (:mod:`rsu.pipeline.flink.routes`), keyBy ``<operator>|<key>``, hold each key's products until the
watermark passes them -> :class:`~rsu.pipeline.flink.kafka_functions.BatchOperatorsFunction` (Python, once per
batch, the operators' keyed state) -> split into result records -> KafkaSink to ``<output_prefix>.<product>``,
exactly once or at least once (``delivery``). State: on the heap by default (``state_backend``), checkpoints
in ``checkpoint_dir``, retained on cancel; a submit restores from the newest retained checkpoint there.
"""

from __future__ import annotations

import logging
import os
import re
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from rsu_sdk.payloads import PRODUCT_OF

from rsu.pipeline.flink.job import flink_configuration, worker_pythonpath
from rsu.pipeline.operators import Operator

__all__ = ["output_topics", "ensure_output_topics", "latest_checkpoint", "kafka_job_configuration", "make_kafka_environment", "build_kafka_job",
           "submit_kafka_job", "input_topics", "input_pattern"]

log = logging.getLogger(__name__)


def input_topics(kc: Any) -> list[str]:
    return [f"{kc.topic_prefix}.{p.replace('/', '.')}" for p in kc.input_products]


def input_pattern(kc: Any) -> str:
    """A regex of the input topics: a subscription by pattern takes the ones that exist (a site without
    radar has no ``rsu.radar``) and finds the others when they appear (partition discovery)."""
    return "|".join(re.escape(t) for t in input_topics(kc))


def latest_checkpoint(checkpoint_dir: Path | str) -> Path | None:
    """The newest completed checkpoint (``<job id>/chk-<n>`` holding ``_metadata``) under ``checkpoint_dir``."""
    root = Path(checkpoint_dir)
    found = [m.parent for m in root.glob("*/chk-*/_metadata")] if root.is_dir() else []
    return max(found, key=lambda p: (p.stat().st_mtime, int(p.name.split("-")[-1])), default=None)


def kafka_job_configuration(fc: Any, *, restore_from: Path | None = None) -> Any:
    """The job's Configuration: the runner's settings plus checkpoints, state backend, restarts, restore."""
    kc = fc.kafka
    conf = flink_configuration(fc.model_copy(update={"checkpoint_interval_ms": 0}))
    ckpt = Path(kc.checkpoint_dir).resolve()
    settings = {
        "execution.checkpointing.interval": f"{kc.checkpoint_interval_ms} ms",
        "execution.checkpointing.mode": "EXACTLY_ONCE",
        "execution.checkpointing.dir": ckpt.as_uri(),
        "execution.checkpointing.externalized-checkpoint-retention": "RETAIN_ON_CANCELLATION",
        "execution.checkpointing.num-retained": "3",
        "execution.checkpointing.incremental": str(kc.incremental).lower(),
        "pipeline.auto-watermark-interval": f"{kc.watermark_interval_ms} ms",
        "execution.checkpointing.unaligned.enabled": str(kc.unaligned_checkpoints).lower(),
        "execution.checkpointing.min-pause": "0 ms",
        "state.backend.type": kc.state_backend,
        "restart-strategy.type": "fixed-delay",
        "restart-strategy.fixed-delay.attempts": str(kc.restart_attempts),
        "restart-strategy.fixed-delay.delay": f"{kc.restart_delay_ms} ms",
    }
    if restore_from is not None:
        settings["execution.state-recovery.path"] = Path(restore_from).resolve().as_uri()
    for key, value in settings.items():
        conf.set_string(key, value)
    return conf


def make_kafka_environment(fc: Any, jars: Sequence[Path], *, restore_from: Path | None = None) -> Any:
    """A StreamExecutionEnvironment with the connector jars (a local mini-cluster unless ``fc.address``)."""
    os.environ["PYTHONPATH"] = worker_pythonpath()
    from pyflink.datastream import StreamExecutionEnvironment
    from pyflink.java_gateway import get_gateway
    from pyflink.util.java_utils import add_jars_to_context_class_loader

    kc = fc.kafka
    uris = [Path(j).resolve().as_uri() for j in jars]
    conf = kafka_job_configuration(fc, restore_from=restore_from)
    conf.set_string("pipeline.jars", ";".join(uris))
    get_gateway()
    add_jars_to_context_class_loader(uris)
    if fc.address:
        import pyflink

        gateway = get_gateway()
        host, port = fc.address.rsplit(":", 1)
        ship = [*sorted((Path(pyflink.__file__).parent / "opt").glob("flink-python-*.jar")), *jars]
        j_jars = gateway.new_array(gateway.jvm.String, len(ship))
        for i, jar in enumerate(ship):
            j_jars[i] = str(Path(jar).resolve())
        j_env = gateway.jvm.org.apache.flink.streaming.api.environment.StreamExecutionEnvironment \
            .createRemoteEnvironment(host, int(port), conf._j_configuration, j_jars)
        env = StreamExecutionEnvironment(j_env)
    else:
        env = StreamExecutionEnvironment.get_execution_environment(conf)
    env.set_parallelism(fc.parallelism)
    env.set_buffer_timeout(kc.buffer_timeout_ms)
    return env


def _offsets(kc: Any) -> Any:
    from pyflink.datastream.connectors.kafka import KafkaOffsetResetStrategy, KafkaOffsetsInitializer

    if kc.starting_offsets == "earliest":
        return KafkaOffsetsInitializer.earliest()
    if kc.starting_offsets == "latest":
        return KafkaOffsetsInitializer.latest()
    return KafkaOffsetsInitializer.committed_offsets(KafkaOffsetResetStrategy.EARLIEST)


def output_topics(kc: Any) -> list[str]:
    """Every topic a result may go to: ``<output_prefix>.<product>`` for each product of the wire format."""
    return [f"{kc.output_prefix}.{p.replace('/', '.')}" for p in sorted({p for p, _ in PRODUCT_OF.values()})]


def ensure_output_topics(kc: Any, timeout_s: float = 30.0) -> list[str]:
    """Create the result topics that do not exist yet (the brokers' default partitions); the exactly-once sink's
    pooled transactional ids look up the producers of each at start. Returns those created."""
    from confluent_kafka.admin import AdminClient, NewTopic

    admin = AdminClient({"bootstrap.servers": kc.bootstrap_servers, **kc.client})
    existing = set(admin.list_topics(timeout=timeout_s).topics)
    missing = [t for t in output_topics(kc) if t not in existing]
    if missing:
        futures = admin.create_topics([NewTopic(t, num_partitions=-1) for t in missing],
                                      operation_timeout=timeout_s)
        for topic, future in futures.items():
            try:
                future.result(timeout_s)
            except Exception as exc:  # noqa: BLE001 - created meanwhile by another job: fine; else say which
                if "TOPIC_ALREADY_EXISTS" not in str(exc):
                    raise RuntimeError(f"could not create the result topic {topic}: {exc}") from None
    return missing


def _j_properties(values: dict[str, str]) -> Any:
    from pyflink.java_gateway import get_gateway

    props = get_gateway().jvm.java.util.HashMap()
    for key, value in values.items():
        props.put(key, value)
    return props


def _sink(kc: Any) -> Any:
    """The KafkaSink of results (``rsu.flink.KafkaJob.kafkaSink``): topic and key (``<operator>|<key>``) per record,
    partitioned by the key; exactly once (a transaction per checkpoint, pooled transactional ids) or at least
    once, as ``delivery`` says."""
    from pyflink.java_gateway import get_gateway

    exactly_once = kc.delivery == "exactly_once"
    props = dict(kc.client)
    if exactly_once:
        props.setdefault("transaction.timeout.ms", str(kc.transaction_timeout_ms))
    props.setdefault("linger.ms", str(kc.sink_linger_ms))
    gateway = get_gateway()
    topics = gateway.jvm.java.util.ArrayList()
    for topic in output_topics(kc):
        topics.add(topic)
    return gateway.jvm.rsu.flink.KafkaJob.kafkaSink(kc.bootstrap_servers, exactly_once, kc.transactional_id_prefix,
                                                    _j_properties(props), topics)


def build_kafka_job(env: Any, operators: Sequence[Operator], kc: Any, *, out_of_orderness_ms: int,
                    idle_timeout_ms: float, parallelism: int, boot: str) -> None:
    """Add the job's graph to ``env``: the JVM reads, routes, keys and batches; Python runs the operators once per
    batch; the JVM splits the results and writes them."""
    from pyflink.common import Duration, Types, WatermarkStrategy
    from pyflink.datastream.connectors.kafka import KafkaSource
    from pyflink.datastream.data_stream import KeyedStream
    from pyflink.java_gateway import get_gateway

    from rsu.pipeline.flink.kafka_functions import BatchOperatorsFunction
    from rsu.pipeline.flink.routes import route_spec

    jvm = get_gateway().jvm
    spec = route_spec(operators)
    builder = KafkaSource.builder().set_bootstrap_servers(kc.bootstrap_servers).set_topic_pattern(input_pattern(kc)) \
        .set_group_id(kc.group_id).set_starting_offsets(_offsets(kc)) \
        .set_property("isolation.level", "read_committed") \
        .set_property("commit.offsets.on.checkpoint", "true") \
        .set_property("fetch.min.bytes", str(kc.fetch_min_bytes)) \
        .set_property("fetch.max.wait.ms", str(kc.fetch_max_wait_ms))
    builder._j_builder.setValueOnlyDeserializer(jvm.rsu.flink.RawBytesSchema())
    for key, value in kc.client.items():
        builder.set_property(key, value)
    if kc.bounded:
        from pyflink.datastream.connectors.kafka import KafkaOffsetsInitializer

        builder.set_bounded(KafkaOffsetsInitializer.latest())
    else:
        builder.set_property("partition.discovery.interval.ms", "10000")
    strategy = WatermarkStrategy.for_bounded_out_of_orderness(Duration.of_millis(out_of_orderness_ms)) \
        .with_idleness(Duration.of_millis(int(idle_timeout_ms)))
    records = env.from_source(builder.build(), strategy, "kafka-products").uid("kafka-products")
    batches = KeyedStream(jvm.rsu.flink.KafkaJob.batches(records._j_data_stream, spec, parallelism),
                          Types.PRIMITIVE_ARRAY(Types.BYTE()), records)
    out = batches.process(BatchOperatorsFunction(operators, kc.output_prefix, boot),
                          output_type=Types.PRIMITIVE_ARRAY(Types.BYTE())) \
        .name("operators").uid("operators").set_parallelism(parallelism)
    jvm.rsu.flink.KafkaJob.sink(out._j_data_stream, _sink(kc), parallelism)


def submit_kafka_job(operators: Sequence[Operator], pipeline_cfg: Any, jars: Sequence[Path], *,
                     job_name: str = "rsu-kafka") -> tuple[Any, Path | None]:
    """Build and submit the job (asynchronously); returns its JobClient and the checkpoint it restores from."""
    fc = pipeline_cfg.flink
    kc = fc.kafka
    restore = latest_checkpoint(kc.checkpoint_dir) if kc.restore else None
    if restore is not None:
        log.info("restoring from %s", restore)
    if kc.delivery == "exactly_once":
        ensure_output_topics(kc)
    env = make_kafka_environment(fc, jars, restore_from=restore)
    build_kafka_job(env, operators, kc, out_of_orderness_ms=pipeline_cfg.out_of_orderness_ms,
                    idle_timeout_ms=pipeline_cfg.idle_timeout_ms, parallelism=fc.parallelism,
                    boot=f"flink-{uuid.uuid4().hex[:12]}")
    return env.execute_async(job_name), restore
