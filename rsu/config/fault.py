"""The ``fault_prediction`` section: run a fault-predictor model per device over keyed windows."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from rsu.config.base import StrictModel


class BatchingConfig(StrictModel):
    """Dynamic batching (``mode: worker`` only): batch = max(1, min(max_batch, queue_len // divisor))."""

    max_batch: int = Field(default=32, ge=1, le=1024)
    divisor: int = Field(default=10, ge=1)
    capacity: int = Field(default=10_000, ge=1, description="windows queued at most; the oldest are dropped (counted)")


class FaultPredictionConfig(StrictModel):
    """Which model to run on which devices' readings, and how.

    The model (its file, channel order, window length, normalisation) is the one a plugin registered under
    ``model`` (e.g. ``fault-lstm`` from the ``furnace_fault`` plugin). Without this section the defaults
    apply when that model is registered (enabling ``furnace_fault`` is enough); with it and ``enabled``, a
    config with plant readings that no plugin registers ``model`` for does not start.
    """

    enabled: bool = True
    model: str = Field(default="fault-lstm", min_length=1)
    devices: list[str] = Field(default_factory=list, description="only these devices (empty: every device)")
    channel_map: dict[str, str] = Field(default_factory=dict,
                                        description="model channel -> reading key, where a plant names it differently")
    stride: int = Field(default=1, ge=1, description="predict every N-th sample per device once the window is full")
    mode: Literal["operator", "inline", "worker"] = Field(
        default="operator",
        description=("operator: a keyed stream operator on the configured runner (embedded or flink), batch 1, "
                     "windows and baselines checkpointed and restored after a restart; inline: on the routing "
                     "thread, batch 1, not checkpointed; worker: own thread with dynamic batches (throughput "
                     "under backlog), not checkpointed: a restart re-learns each device's baseline"))
    threads: int = Field(default=1, ge=1, le=64, description="ONNX Runtime intra-op threads")
    batching: BatchingConfig = BatchingConfig()

    @model_validator(mode="after")
    def _unique_devices(self) -> FaultPredictionConfig:
        if len(set(self.devices)) != len(self.devices):
            raise ValueError("devices: duplicate device ids")
        return self
