"""The ``pipeline`` section: event time, queues, checkpoints, batching, adaptive rate and the Flink runner."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, model_validator

from rsu.config.base import StrictModel

__all__ = ["PipelineConfig", "QueueConfig", "FreshnessConfig", "DEFAULT_MAX_AGE_MS", "CheckpointConfig", "BatchingConfig", "AdaptiveRateConfig",
           "FlinkConfig", "KafkaConfig"]


class QueueConfig(StrictModel):
    """The bounded ingest queue between the sources and the operators."""

    size: int = Field(default=10_000, gt=0, description="products held before the drop policy applies")
    drop_policy: Literal["drop_newest", "drop_oldest"] = Field(
        default="drop_newest",
        description="full queue: drop_newest refuses the arriving product, drop_oldest evicts the oldest; "
                    "either way the drop is counted under drops.ingest.<type>")


DEFAULT_MAX_AGE_MS: dict[str, float] = {
    "camera": 500.0, "ars408": 300.0, "radar_udp": 300.0, "replay": 500.0, "plugin": 1_000.0,
    "flink_results": 30_000.0,  # results become visible at the job's checkpoints (transactions), seconds apart
}
"""Default longest wait in the box's queue by source type (``plugin``: every other type that yields no readings).
Types that yield plant or air readings (``sensor_replay``, ``air_station``, plugin kinds with ``readings``)
use ``readings_max_age_ms`` instead unless named here."""


class FreshnessConfig(StrictModel):
    """Sensor inputs that waited in the box's own queue longer than their source's maximum age when the router
    would take them are shed (counted as ``stale``), newest wins, so latency stays bounded when the CPU is
    short. The wait counts from when the box received the input, not from its event time: an input whose event
    time is more than ``late_after_ms`` behind the box's clock on arrival (a slow link) is counted as ``late``
    and processed. Sources that play a recording as fast as possible (``speed: 0``) are never shed: they wait
    instead (back-pressure)."""

    enabled: bool = True
    max_age_ms: dict[str, float] = Field(default_factory=lambda: dict(DEFAULT_MAX_AGE_MS),
                                         description="longest queue wait per source type; types not named use "
                                                     "readings_max_age_ms (reading sources) or max_age_ms.plugin")
    readings_max_age_ms: float | None = Field(
        default=None, gt=0, description="longest queue wait of plant and air readings (sources whose type is not in "
                                        "max_age_ms); null: readings are never shed for their age")
    sources: dict[str, float] = Field(default_factory=dict, description="per source id, overrides the type's")
    capacity: int = Field(default=1_024, gt=0, description="inputs held per source before the oldest is dropped")
    late_after_ms: float | None = Field(
        default=2_000.0, gt=0, description="an input whose event time is this far behind the box's clock when it "
                                           "arrives is counted under late (and processed); null: never counted")

    @model_validator(mode="after")
    def _positive(self) -> FreshnessConfig:
        for where, table in (("max_age_ms", self.max_age_ms), ("sources", self.sources)):
            for key, value in table.items():
                if not value > 0:  # also refuses NaN
                    raise ValueError(f"{where}.{key}: expected a maximum age > 0 ms, got {value}")
        return self

    def max_age_for(self, source_id: str, source_type: str, readings: bool = False) -> float | None:
        """The longest queue wait (ms) of source ``source_id`` of type ``source_type``; None: never shed.

        :param readings: the type yields plant or air readings (``SourceSpec.readings``).
        """
        if source_id in self.sources:
            return self.sources[source_id]
        table = {**DEFAULT_MAX_AGE_MS, **self.max_age_ms}
        if source_type in table:
            return table[source_type]
        return self.readings_max_age_ms if readings else table["plugin"]


class CheckpointConfig(StrictModel):
    """Operator state on local disk (embedded runner): written every ``interval_s`` and on shutdown."""

    enabled: bool = True
    dir: Path = Field(default=Path("var/checkpoints"), description="relative paths are from the working directory")
    interval_s: float = Field(default=5.0, gt=0)
    keep: int = Field(default=3, ge=1, description="checkpoint files kept (older ones are deleted)")


class BatchingConfig(StrictModel):
    """Dynamic batching of model calls: ``batch = max(min_batch, min(max_batch, queue_len // divisor))``."""

    enabled: bool = True
    min_batch: int = Field(default=1, ge=1)
    max_batch: int = Field(default=32, ge=1)
    divisor: int = Field(default=10, ge=1)

    @model_validator(mode="after")
    def _order(self) -> BatchingConfig:
        if self.min_batch > self.max_batch:
            raise ValueError(f"min_batch ({self.min_batch}) must not exceed max_batch ({self.max_batch})")
        return self


class AdaptiveRateConfig(StrictModel):
    """Detector rate from traffic density (tracked objects) and CPU load; every change is logged and counted."""

    enabled: bool = True
    busy_hz: float = Field(default=10.0, gt=0, description="rate when the scene is busy")
    quiet_hz: float = Field(default=5.0, gt=0, description="rate when the scene is quiet")
    busy_objects: int = Field(default=5, ge=0, description="objects at or above which the scene turns busy")
    quiet_objects: int = Field(default=2, ge=0, description="objects at or below which it turns quiet again")
    cpu_high_pct: float = Field(default=80.0, gt=0, le=100)
    cpu_window_s: float = Field(default=5.0, gt=0, description="CPU must stay above cpu_high_pct this long")
    cpu_factor: float = Field(default=0.5, gt=0, lt=1, description="rate multiplier per sustained CPU overload")
    min_hz: float = Field(default=1.0, gt=0)

    @model_validator(mode="after")
    def _order(self) -> AdaptiveRateConfig:
        if self.quiet_objects > self.busy_objects:
            raise ValueError("quiet_objects must not exceed busy_objects (hysteresis)")
        if self.min_hz > min(self.quiet_hz, self.busy_hz):
            raise ValueError("min_hz must not exceed quiet_hz and busy_hz")
        return self


class KafkaConfig(StrictModel):
    """The Kafka-fed job (``rsu flink submit``): product topics in, result topics out, exactly once
    (docs/scale-out.md)."""

    bootstrap_servers: str = Field(default="127.0.0.1:9092", min_length=1, description="the brokers, host:port,...")
    topic_prefix: str = Field(default="rsu", pattern=r"^[A-Za-z0-9._-]+$",
                              description="the boxes' publish.kafka.topic_prefix: inputs are <prefix>.<product>")
    input_products: list[str] = Field(default_factory=lambda: ["detections", "radar", "env"], min_length=1,
                                      description="products the job reads (what the operators handle)")
    output_prefix: str = Field(default="rsu.out", pattern=r"^[A-Za-z0-9._-]+$",
                               description="result topics: <output_prefix>.<product> (rsu.out.objects ...)")
    group_id: str = Field(default="rsu-flink", min_length=1, description="consumer group of the job's source")
    transactional_id_prefix: str = Field(default="rsu-flink", min_length=1,
                                         description="KafkaSink transactions; keep it stable across restarts")
    transaction_timeout_ms: int = Field(default=600_000, gt=0,
                                        description="at most the brokers' transaction.max.timeout.ms (15 min)")
    starting_offsets: Literal["earliest", "latest", "committed"] = Field(
        default="committed", description="without a checkpoint to restore: committed offsets of the group "
                                         "(earliest when none), or earliest / latest")
    bounded: bool = Field(default=False, description="stop at the offsets that are latest when the job starts "
                                                     "(a replay: end-of-input timers fire, the job finishes)")
    delivery: Literal["exactly_once", "at_least_once"] = Field(
        default="exactly_once", description="exactly_once: results in a Kafka transaction per checkpoint, visible to "
        "read_committed readers when it completes; at_least_once: visible at once, repeated after a failure "
        "(ResultSource drops repeats by key and seq)")
    checkpoint_interval_ms: int = Field(default=250, gt=0, description="results become visible to "
                                        "read_committed readers at each checkpoint: this bounds their latency")
    unaligned_checkpoints: bool = Field(default=True, description="barriers overtake back-pressured data "
                                        "(checkpoints stay short under load)")
    buffer_timeout_ms: int = Field(default=5, ge=0, description="network buffer flush timeout of the job")
    watermark_interval_ms: int = Field(default=100, ge=1, description="watermarks per partition this often: a "
                                       "batch holds what one advance releases, and Python is called per batch")
    fetch_min_bytes: int = Field(default=65_536, ge=1, description="the source's fetches wait for this much data ...")
    fetch_max_wait_ms: int = Field(default=10, ge=0, description="... or this long: fewer, larger fetches")
    sink_linger_ms: int = Field(default=5, ge=0, description="the sink's producer batches results this long")
    checkpoint_dir: Path = Field(default=Path("var/flink-checkpoints"),
                                 description="retained checkpoints (a shared folder or object store on a cluster)")
    state_backend: Literal["rocksdb", "hashmap"] = Field(
        default="hashmap", description="hashmap: state on the heap (the operators keep kilobytes per key); rocksdb "
                                       "where state outgrows the TaskManagers' memory")
    incremental: bool = Field(default=True, description="incremental RocksDB checkpoints")
    restore: bool = Field(default=True, description="submit restores from the latest retained checkpoint")
    restart_attempts: int = Field(default=20, ge=0, description="fixed-delay restarts after a failure")
    restart_delay_ms: int = Field(default=200, ge=0)
    client: dict[str, str] = Field(default_factory=dict,
                                   description="extra Kafka client properties (security.protocol, sasl.* ...)")


class FlinkConfig(StrictModel):
    """The ``flink`` runner: PyFlink DataStream job in thread mode, fed over a socket by the host."""

    address: str | None = Field(default=None, pattern=r"^[^:\s]+:\d+$",
                                description="HOST:PORT of a running cluster's REST endpoint; none: local mini-cluster")
    parallelism: int = Field(default=1, ge=1)
    execution_mode: Literal["thread", "process"] = "thread"
    bundle_size: int = Field(default=1, ge=1, description="python.fn-execution.bundle.size")
    bundle_time_ms: int = Field(default=1, ge=1, description="python.fn-execution.bundle.time")
    buffer_timeout_ms: int = Field(default=0, ge=0, description="network buffer flush timeout (0: every record)")
    watermark_interval_ms: int = Field(default=20, ge=1, description="periodic watermark emission")
    max_batch: int = Field(default=64, ge=1, le=4096,
                           description="products per feeder line (micro-batch): what waits at that moment, up to this")
    batch_wait_ms: float = Field(default=2.0, ge=0, le=100,
                                 description="least spacing of feeder lines above batch_above_per_s (a product "
                                             "after a quiet spell still goes at once); 0: no spacing")
    batch_above_per_s: float = Field(default=2_000.0, ge=0,
                                     description="arrival rate (products/s) above which lines are spaced; "
                                                 "below it each product goes at once (0: never space)")
    checkpoint_interval_ms: int = Field(default=10_000, ge=0, description="0 disables Flink checkpoints")
    feeder_host: str = Field(default="127.0.0.1", description="where the host listens for the job's socket source")
    feeder_port: int = Field(default=0, ge=0, le=65535, description="0: any free port")
    return_endpoint: str = Field(default="tcp://127.0.0.1:0", pattern=r"^(tcp|ipc)://.+",
                                 description="ZeroMQ PULL the host binds for the job's products (port 0: any)")
    python_executable: str | None = Field(default=None, description="interpreter of the Python workers "
                                                                    "(default: the host's own)")
    startup_timeout_s: float = Field(default=90.0, gt=0)
    kafka: KafkaConfig = KafkaConfig()


class MemoryConfig(StrictModel):
    """Memory for weeks of uptime: the C allocator's settings (glibc only; see :mod:`rsu.core.allocator`) and
    the interpreter's full garbage collection (see :mod:`rsu.app.memory_service`)."""

    tune_allocator: bool = Field(default=True, description="apply mmap_threshold_kb and arena_max at start-up")
    mmap_threshold_kb: int = Field(default=256, ge=0, le=32_768,
                                   description="blocks this large or larger (frames, tensors) are mapped on their own "
                                               "and returned to the kernel when freed; 0: glibc's dynamic threshold")
    arena_max: int = Field(default=4, ge=0, le=256, description="most malloc arenas; 0: glibc's default (8 per core)")
    trim_interval_s: float = Field(default=60.0, ge=0, description="return free heap pages to the kernel this often "
                                                                   "(malloc_trim); 0: never")
    gc_interval_s: float = Field(default=60.0, ge=0,
                                 description="a full garbage collection this often, over what the box made since "
                                             "start-up (frozen out first): empties the interpreter's free lists, which "
                                             "otherwise grow for hours; 0: never (Python's own schedule)")


class PipelineConfig(StrictModel):
    """Operators, their event time and state, and the runners that run them."""

    out_of_orderness_ms: int = Field(default=200, ge=0, description="bounded out-of-orderness of the watermark")
    idle_timeout_ms: float = Field(default=2_000.0, gt=0,
                                   description="a source that sent nothing for this long (processing time) no longer "
                                               "holds the operators' watermark back (Flink's withIdleness)")
    queue: QueueConfig = QueueConfig()
    freshness: FreshnessConfig = FreshnessConfig()
    checkpoint: CheckpointConfig = CheckpointConfig()
    batching: BatchingConfig = BatchingConfig()
    adaptive_rate: AdaptiveRateConfig = AdaptiveRateConfig()
    memory: MemoryConfig = MemoryConfig()
    flink: FlinkConfig = FlinkConfig()
