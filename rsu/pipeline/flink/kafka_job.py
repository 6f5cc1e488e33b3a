"""Build and submit the Kafka-fed job (``rsu flink submit``): the operators between product and result topics.

Graph: KafkaSource on ``<topic_prefix>.<product>`` (value = the v1 JSON envelope; record timestamps are event
times, so watermarks are per partition, bounded out-of-orderness, idle partitions released after
``pipeline.idle_timeout_ms``) -> :class:`~rsu.pipeline.flink.kafka_functions.KafkaRoute` -> key_by
``<operator>|<key>`` -> :class:`~rsu.pipeline.flink.kafka_functions.OrderedOperatorsFunction` (event-time order
per key, the operators' keyed state) -> KafkaSink, exactly once (a Kafka transaction per checkpoint) to
``<output_prefix>.<product>``. State: RocksDB (incremental checkpoints) in ``checkpoint_dir``, retained on
cancel; a submit restores from the newest retained checkpoint there (``restore``).
"""

from __future__ import annotations

import logging
import os
import re
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from rsu.pipeline.flink.job import flink_configuration, worker_pythonpath
from rsu.pipeline.operators import Operator

__all__ = ["latest_checkpoint", "kafka_job_configuration", "make_kafka_environment", "build_kafka_job",
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
    env.set_buffer_timeout(fc.buffer_timeout_ms)
    return env


def _offsets(kc: Any) -> Any:
    from pyflink.datastream.connectors.kafka import KafkaOffsetResetStrategy, KafkaOffsetsInitializer

    if kc.starting_offsets == "earliest":
        return KafkaOffsetsInitializer.earliest()
    if kc.starting_offsets == "latest":
        return KafkaOffsetsInitializer.latest()
    return KafkaOffsetsInitializer.committed_offsets(KafkaOffsetResetStrategy.EARLIEST)


def _sink(kc: Any) -> Any:
    """KafkaSink of ``Row(topic, json, t_ms)``: topic from the first column, value from the second, the partition
    fixed per sink subtask (every record of a key comes from one subtask, so its order holds)."""
    from pyflink.common.serialization import SimpleStringSchema
    from pyflink.datastream.connectors.base import DeliveryGuarantee
    from pyflink.datastream.connectors.kafka import KafkaSink
    from pyflink.java_gateway import get_gateway
    from pyflink.util.java_utils import get_java_class

    jvm = get_gateway().jvm
    utils = jvm.org.apache.flink.python.util.PythonConnectorUtils
    sink_pkg = jvm.org.apache.flink.connector.kafka.sink
    schema = sink_pkg.KafkaRecordSerializationSchema.builder()
    schema.setTopicSelector(utils.createFirstColumnTopicSelector(get_java_class(sink_pkg.TopicSelector)))
    schema.setValueSerializationSchema(utils.SecondColumnSerializationSchema(
        SimpleStringSchema()._j_serialization_schema))
    schema.setPartitioner(jvm.org.apache.flink.streaming.connectors.kafka.partitioner.FlinkFixedPartitioner())
    builder = KafkaSink.builder().set_bootstrap_servers(kc.bootstrap_servers) \
        .set_delivery_guarantee(DeliveryGuarantee.EXACTLY_ONCE) \
        .set_transactional_id_prefix(kc.transactional_id_prefix) \
        .set_property("transaction.timeout.ms", str(kc.transaction_timeout_ms))
    for key, value in kc.client.items():
        builder.set_property(key, value)
    builder._j_builder.setRecordSerializer(schema.build())
    return builder.build()


def build_kafka_job(env: Any, operators: Sequence[Operator], kc: Any, *, out_of_orderness_ms: int,
                    idle_timeout_ms: float, parallelism: int, boot: str) -> None:
    """Add the job's graph to ``env``."""
    from pyflink.common import Duration, Types, WatermarkStrategy
    from pyflink.common.serialization import SimpleStringSchema
    from pyflink.datastream.connectors.kafka import KafkaSource

    from rsu.pipeline.flink.kafka_functions import KafkaRoute, OrderedOperatorsFunction, ResultTime

    builder = KafkaSource.builder().set_bootstrap_servers(kc.bootstrap_servers).set_topic_pattern(input_pattern(kc)) \
        .set_group_id(kc.group_id).set_starting_offsets(_offsets(kc)) \
        .set_value_only_deserializer(SimpleStringSchema()) \
        .set_property("isolation.level", "read_committed") \
        .set_property("commit.offsets.on.checkpoint", "true")
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
    routed = records.flat_map(KafkaRoute(operators), output_type=Types.PICKLED_BYTE_ARRAY()) \
        .name("route").uid("route")
    out = routed.key_by(lambda v: v[0], key_type=Types.STRING()) \
        .process(OrderedOperatorsFunction(operators, kc.output_prefix, boot),
                 output_type=Types.ROW([Types.STRING(), Types.STRING(), Types.LONG()])) \
        .name("operators").uid("operators").set_parallelism(parallelism) \
        .assign_timestamps_and_watermarks(WatermarkStrategy.no_watermarks().with_timestamp_assigner(ResultTime())) \
        .name("result-time").uid("result-time")
    out.sink_to(_sink(kc)).name("kafka-results").uid("kafka-results")


def submit_kafka_job(operators: Sequence[Operator], pipeline_cfg: Any, jars: Sequence[Path], *,
                     job_name: str = "rsu-kafka") -> tuple[Any, Path | None]:
    """Build and submit the job (asynchronously); returns its JobClient and the checkpoint it restores from."""
    fc = pipeline_cfg.flink
    kc = fc.kafka
    restore = latest_checkpoint(kc.checkpoint_dir) if kc.restore else None
    if restore is not None:
        log.info("restoring from %s", restore)
    env = make_kafka_environment(fc, jars, restore_from=restore)
    build_kafka_job(env, operators, kc, out_of_orderness_ms=pipeline_cfg.out_of_orderness_ms,
                    idle_timeout_ms=pipeline_cfg.idle_timeout_ms, parallelism=fc.parallelism,
                    boot=f"flink-{uuid.uuid4().hex[:12]}")
    return env.execute_async(job_name), restore
