"""Every stage and output the box can have, declared once as a :class:`~rsu_sdk.StageSpec` and registered
through ``rsu_register_stages`` by the built-in plugin :class:`BuiltinStages` (the door third parties use).

A spec's ``name`` is the running stage's ``name``; a stage that runs in more than one way (the detector with or
without cross-camera batching, fault prediction inline or as a batch worker) has one spec per thread model.
The operators (``fusion``, ``fault_prediction``) run inside the operator runner, whose inputs and outputs are
theirs together (:mod:`rsu.app.dataflow`). A test walks every stage the builder can create and asserts each
has a spec here.
"""

from __future__ import annotations

from rsu_sdk import (
    PRODUCT_TYPES,
    ActuationCommand,
    ActuationOutcome,
    Alarm,
    Detections,
    Frame,
    HealthEvent,
    ObjectList,
    Prediction,
    RadarScan,
    SensorReading,
    StageSpec,
    hookimpl,
)

__all__ = ["OPERATOR_SPECS", "BuiltinStages", "builtin_stage_specs", "spec_key"]

_NEWEST = "newest input per source kept; an older pending one is superseded (counted)"

_STAGES: tuple[StageSpec, ...] = (
    StageSpec(name="detector", consumes=(Frame,), produces=(Detections,), thread="latest-value worker",
              queue=_NEWEST, description="camera detector, one model call per frame"),
    StageSpec(name="detector", consumes=(Frame,), produces=(Detections,), thread="batch worker",
              queue=_NEWEST + "; frames of several cameras batched within models.detector.batch_window_ms",
              description="camera detector, frames of several cameras in one model call"),
    StageSpec(name="fault_prediction", consumes=(SensorReading,), produces=(Prediction,), thread="inline",
              queue="none: predicts on the router thread, batch 1", description="fault model per device window"),
    StageSpec(name="fault_prediction", consumes=(SensorReading,), produces=(Prediction,), thread="batch worker",
              queue="windows queued (fault_prediction.batching.capacity), taken in dynamic batches",
              description="fault model per device window, batched on its own thread"),
    StageSpec(name="operators", consumes=(), produces=(), thread="inline",
              queue="none: keyed operators on the router thread, watermarks and checkpoints",
              description="operator runner (embedded or Flink): its operators' inputs and outputs"),
    StageSpec(name="power", consumes=(Detections, RadarScan, ObjectList, SensorReading, Prediction, Alarm,
                                      ActuationCommand, ActuationOutcome, HealthEvent),
              thread="inline", queue="none: notes activity, emits nothing", description="power governor"),
)

OPERATOR_SPECS: tuple[StageSpec, ...] = (
    StageSpec(name="fusion", consumes=(Detections, RadarScan), produces=(ObjectList,),
              description="operator: camera + radar fusion and tracking"),
    StageSpec(name="fault_prediction", consumes=(SensorReading,), produces=(Prediction,),
              description="operator: fault model per device window, checkpointed"),
)
"""Operators of the runner: not stages of the box themselves (``rsu_register_stages`` does not carry them)."""

_PUBLISHED = tuple(t for t in PRODUCT_TYPES if t is not Frame)  # frames stay on the box

_PLUGIN_QUEUE = "per plugin: safety products in order, others newest per source and device (older shed, counted)"

_OUTPUTS: tuple[StageSpec, ...] = (
    StageSpec(name="publisher", consumes=_PUBLISHED, thread="inline", output=True,
              queue="none: non-blocking ZeroMQ send (frames stay on the box)",
              description="ZeroMQ publisher (and the uplink shaper when publish.uplink.enabled)"),
    StageSpec(name="kafka", consumes=_PUBLISHED, thread="inline", output=True,
              queue="journal of what the broker has not acknowledged", description="Kafka output"),
    StageSpec(name="plugins", consumes=PRODUCT_TYPES, thread="latest-value worker", output=True,
              queue=_PLUGIN_QUEUE, description="enabled plugins; what they emit (any type) enters at the first stage"),
    StageSpec(name="web", consumes=PRODUCT_TYPES, thread="inline", output=True,
              queue="none: output taps update the live state", description="dashboard live state and /metrics"),
    StageSpec(name="heartbeat", consumes=(), thread="periodic", output=True,
              queue="none: publishes health straight through the publisher every publish.health_interval_s",
              description="heartbeat of every component"),
)


def spec_key(spec: StageSpec) -> str:
    """The registry key of ``spec``: ``name [thread]`` (a stage may run in more than one way)."""
    return f"{spec.name} [{spec.thread}]"


def builtin_stage_specs() -> list[StageSpec]:
    """The records :class:`BuiltinStages` registers: the host's stages and outputs."""
    return [*_STAGES, *_OUTPUTS]


class BuiltinStages:
    """The built-in plugin that registers the host's own stages and outputs."""

    @hookimpl
    def rsu_register_stages(self) -> list[StageSpec]:
        return builtin_stage_specs()
