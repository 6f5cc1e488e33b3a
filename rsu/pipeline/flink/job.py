"""Build and submit the PyFlink job that runs the operators.

Graph: socketTextStream (Java, via the gateway; parallelism 1) -> Route (flat map, parallelism 1 so that
order per key is kept) -> event-time watermarks (bounded out-of-orderness) -> key_by -> OperatorsFunction
(KeyedProcessFunction; pushes its outputs to the host over ZeroMQ PUSH, one message per record) ->
DiscardingSink. Records are micro-batches (see feeder.py): one per key and feeder line.
"""

from __future__ import annotations

import os
import site
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from rsu.pipeline.operators import Operator

__all__ = ["flink_configuration", "make_environment", "build_job", "worker_pythonpath"]


def worker_pythonpath() -> str:
    """Site-packages of this interpreter and the folders holding rsu and rsu_sdk: the embedded (thread mode)
    interpreter inside the JVM starts from the base Python, not the virtual environment, so it needs them on
    PYTHONPATH to import pemja and rsu."""
    import rsu
    import rsu_sdk

    paths = [*site.getsitepackages(), *[p for p in sys.path if p.endswith("site-packages")]]
    # editable installs are found through .pth import hooks, which PYTHONPATH entries do not run
    paths += [str(Path(m.__file__).resolve().parents[1]) for m in (rsu, rsu_sdk)]
    extra = os.environ.get("PYTHONPATH", "")
    return os.pathsep.join(dict.fromkeys([*paths, *([extra] if extra else [])]))


def flink_configuration(fc: Any, *, checkpoint_dir: Path | None = None) -> Any:
    """A PyFlink ``Configuration`` from the ``pipeline.flink`` config section."""
    from pyflink.common import Configuration

    exe = fc.python_executable or sys.executable
    conf = Configuration()
    conf.set_string("python.execution-mode", fc.execution_mode)
    conf.set_string("python.executable", exe)
    conf.set_string("python.client.executable", exe)
    conf.set_string("python.fn-execution.bundle.size", str(fc.bundle_size))
    conf.set_string("python.fn-execution.bundle.time", str(fc.bundle_time_ms))
    conf.set_string("pipeline.auto-watermark-interval", f"{fc.watermark_interval_ms} ms")
    if fc.checkpoint_interval_ms > 0 and checkpoint_dir is not None:
        conf.set_string("execution.checkpointing.interval", f"{fc.checkpoint_interval_ms} ms")
        conf.set_string("execution.checkpointing.dir", Path(checkpoint_dir).resolve().as_uri())
        conf.set_string("execution.checkpointing.externalized-checkpoint-retention", "RETAIN_ON_CANCELLATION")
    return conf


def make_environment(fc: Any, *, checkpoint_dir: Path | None = None) -> Any:
    """The StreamExecutionEnvironment (starts the JVM gateway; a local mini-cluster unless ``address``)."""
    os.environ["PYTHONPATH"] = worker_pythonpath()  # inherited by the gateway JVM (local mini-cluster)
    from pyflink.datastream import StreamExecutionEnvironment

    conf = flink_configuration(fc, checkpoint_dir=checkpoint_dir)
    if fc.address:
        env = _remote_environment(fc.address, conf)
    else:
        env = StreamExecutionEnvironment.get_execution_environment(conf)
    env.set_parallelism(fc.parallelism)
    env.set_buffer_timeout(fc.buffer_timeout_ms)
    return env


def _remote_environment(address: str, conf: Any) -> Any:
    """An environment that submits to the cluster whose REST endpoint is ``address``, shipping the
    flink-python jar from the wheel (a cluster started from the wheel has it only under ``opt/``)."""
    import pyflink
    from pyflink.datastream import StreamExecutionEnvironment
    from pyflink.java_gateway import get_gateway

    gateway = get_gateway()
    host, port = address.rsplit(":", 1)
    jars = sorted((Path(pyflink.__file__).parent / "opt").glob("flink-python-*.jar"))
    j_jars = gateway.new_array(gateway.jvm.String, len(jars))
    for i, jar in enumerate(jars):
        j_jars[i] = str(jar)
    j_env = gateway.jvm.org.apache.flink.streaming.api.environment.StreamExecutionEnvironment \
        .createRemoteEnvironment(host, int(port), conf._j_configuration, j_jars)
    return StreamExecutionEnvironment(j_env)


def build_job(env: Any, operators: Sequence[Operator], *, feeder: tuple[str, int], return_endpoint: str,
              out_of_orderness_ms: int, parallelism: int = 1) -> None:
    """Add the job's graph to ``env``."""
    from pyflink.common import Duration, Types, WatermarkStrategy
    from pyflink.datastream.connectors import Sink
    from pyflink.datastream.data_stream import DataStream

    from rsu.pipeline.flink.functions import EventTime, OperatorsFunction, Route

    j_env = env._j_stream_execution_environment
    lines = DataStream(j_env.socketTextStream(feeder[0], feeder[1], "\n", 0))
    routed = lines.flat_map(Route(operators), output_type=Types.PICKLED_BYTE_ARRAY()).name("route").set_parallelism(1)
    strategy = WatermarkStrategy.for_bounded_out_of_orderness(Duration.of_millis(out_of_orderness_ms)) \
        .with_timestamp_assigner(EventTime())
    timed = routed.assign_timestamps_and_watermarks(strategy).set_parallelism(1)
    out = timed.key_by(lambda v: v[0], key_type=Types.STRING()) \
        .process(OperatorsFunction(operators, return_endpoint), output_type=Types.PICKLED_BYTE_ARRAY()) \
        .name("operators") \
        .set_parallelism(parallelism)
    discard = j_env.getClass().getClassLoader() \
        .loadClass("org.apache.flink.streaming.api.functions.sink.v2.DiscardingSink").newInstance()
    out.sink_to(Sink(discard)).name("discard")
