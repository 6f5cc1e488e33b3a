"""Hook specifications of the ``rsu`` pluggy project.

Implement any subset of these in a plugin with :data:`rsu_sdk.hookimpl`. The host calls each
implementation on its own, inside a try/except: a plugin that raises is counted and, after repeated
failures, disabled; a slow plugin never stalls the sensors or the other plugins: it gets every safety
product (alarm, actuation, health) in order, and of the others the newest per source and device (older ones
still queued are shed, counted). Values passed in are frozen; never mutate them.

Threading contract:

- ``rsu_config_schema``, the ``rsu_register_*`` hooks, ``rsu_on_start`` and ``rsu_on_stop`` run on the
  box's main thread, during start-up and shutdown.
- Every product hook (``rsu_on_frame`` ... ``rsu_on_health``) runs on **that plugin's own worker thread**,
  one call at a time: safety products first, in the order they reached the plugin's queue, then the others
  (per source in event order). So a plugin's product hooks never run concurrently with each other; they may
  run concurrently with another plugin's hooks, and with threads the plugin starts itself (guard state those
  threads share).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import pluggy

if TYPE_CHECKING:
    from rsu_sdk.context import PluginContext
    from rsu_sdk.records import EncoderSpec, ModelSpec, SourceSpec, StageSpec
    from rsu_sdk.types import (
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
    )

PROJECT_NAME = "rsu"
hookspec = pluggy.HookspecMarker(PROJECT_NAME)


# -------------------------------------------------------------------------------------------------
# Configuration and lifecycle
# -------------------------------------------------------------------------------------------------


@hookspec(firstresult=True)
def rsu_config_schema() -> Mapping[str, Any] | None:
    """Declare the JSON Schema of this plugin's settings (``plugins.<name>`` in the config).

    Called on the box's main thread, once per plugin before ``rsu_on_start`` (and by ``rsu check``). The
    host validates the plugin's section against it and reports each problem as a dotted key path. The host
    calls every plugin's implementation on its own; for a direct pluggy call it stops at first non-None
    result.

    :returns: a JSON Schema (draft 2020-12) object, or None to accept an empty section only.

    .. versionadded:: 0.1

    Example::

        @hookimpl
        def rsu_config_schema():
            return {"type": "object", "properties": {"threshold": {"type": "number", "minimum": 0}},
                    "additionalProperties": False}
    """


@hookspec
def rsu_on_start(context: PluginContext) -> None:
    """Start the plugin: keep the context, open what it needs.

    Called once, on the box's main thread, after the plugin's settings are validated and before any
    product arrives. An exception here disables the plugin (logged with its name); the box keeps running.

    :param context: the plugin's settings, publisher, emitter, logger and site.

    .. versionadded:: 0.1

    Example::

        @hookimpl
        def rsu_on_start(context):
            self.publisher = context.publisher
            self.limit = context.config.get("limit", 10)
    """


@hookspec
def rsu_on_stop() -> None:
    """Stop the plugin: flush and close what it opened.

    Called once at shutdown, on the box's main thread, after the plugin's worker thread delivered its last
    product (the queue is drained first, within ``plugins.stop_timeout_s``). Not called for a plugin whose
    start failed. Stop and join threads the plugin started itself here.

    .. versionadded:: 0.1

    Example::

        @hookimpl
        def rsu_on_stop():
            self.file.close()
    """


# -------------------------------------------------------------------------------------------------
# Registration: called once at start-up on the main thread; the host keeps what they return and calls it
# directly
# -------------------------------------------------------------------------------------------------


@hookspec
def rsu_register_sources() -> Sequence[SourceSpec]:
    """Add kinds of input (``sources[i].type`` values) to the box.

    Called once at start-up, on the box's main thread, and by ``rsu check``. ``SourceSpec.open`` is later
    called on the source's own thread.

    :returns: the source specs this plugin provides.

    .. versionadded:: 0.1

    Example::

        @hookimpl
        def rsu_register_sources():
            return [SourceSpec(kind="weather", open=open_weather_station)]
    """


@hookspec
def rsu_register_stages() -> Sequence[StageSpec]:
    """Declare dataflow stages (name, products in and out, thread model), so the host can draw and check the
    graph (``rsu graph``); the host's own stages are registered through this hook too.

    Called once at start-up, on the box's main thread, and by ``rsu graph``.

    :returns: the stage specs this plugin provides.

    .. versionadded:: 0.3

    Example::

        @hookimpl
        def rsu_register_stages():
            return [StageSpec(name="counter", consumes=(ObjectList,), produces=(Alarm,))]
    """


@hookspec
def rsu_register_encoders() -> Sequence[EncoderSpec]:
    """Add binary message formats, so that ``rsu tap`` can decode bodies with this ``encoding``.

    Called once at start-up, on the box's main thread, and by ``rsu tap``.

    :returns: the encoder specs this plugin provides.

    .. versionadded:: 0.1

    Example::

        @hookimpl
        def rsu_register_encoders():
            return [EncoderSpec(name="cpm-uper", decode=decode_cpm)]
    """


@hookspec
def rsu_register_models() -> Sequence[ModelSpec]:
    """Declare model files the plugin uses, so that ``rsu check`` can verify they exist and load.

    Called once at start-up, on the box's main thread, and by ``rsu check``.

    :returns: the model specs this plugin provides.

    .. versionadded:: 0.1

    Example::

        @hookimpl
        def rsu_register_models():
            return [ModelSpec(name="fault-lstm", path=HERE / "fault_lstm.onnx", kind="fault-predictor")]
    """


# -------------------------------------------------------------------------------------------------
# Products: called once per product, on the plugin's own worker thread, one call at a time, in arrival order
# -------------------------------------------------------------------------------------------------


@hookspec
def rsu_on_frame(frame: Frame) -> None:
    """Receive a decoded camera frame (privacy blur is NOT applied; blur before anything leaves the box).

    Called on the plugin's worker thread for each frame the camera source delivers: at most the camera's
    configured ``fps`` (the stream's own rate when unset). With the camera's default ``policy: latest`` the
    source keeps only the newest frame, so a consumer slower than the camera sees the latest frame, not every
    frame captured; a newer frame of the same camera replaces one still queued for the plugin (counted). Frames are large: keep a reference only
    as long as needed.

    :param frame: the image and its capture time.

    .. versionadded:: 0.1

    Example::

        @hookimpl
        def rsu_on_frame(frame):
            self.latest = frame
    """


@hookspec
def rsu_on_detections(detections: Detections) -> None:
    """Receive the detector's output for one camera frame.

    Called on the plugin's worker thread once per frame the detector processed (the detector may skip
    frames when it falls behind), also when nothing was detected (``len(detections) == 0``).

    :param detections: boxes, scores and classes as parallel arrays.

    .. versionadded:: 0.1

    Example::

        @hookimpl
        def rsu_on_detections(detections):
            people = sum(1 for name in detections.labels if name == "person")
    """


@hookspec
def rsu_on_radar(scan: RadarScan) -> None:
    """Receive one complete radar cycle.

    Called on the plugin's worker thread once per cycle and radar (at the radar's cycle rate, typically
    10-20 Hz), in the radar's frame (not yet in world coordinates).

    :param scan: the objects of the cycle.

    .. versionadded:: 0.1

    Example::

        @hookimpl
        def rsu_on_radar(scan):
            near = [o for o in scan.objects if o.dist_long < 20]
    """


@hookspec
def rsu_on_objects(objects: ObjectList) -> None:
    """Receive the fused, tracked objects of one fusion cycle, in world coordinates.

    Called on the plugin's worker thread once per fusion cycle (at the camera or radar rate), also when the
    list is empty.

    :param objects: all live tracks with ENU and WGS84 positions.

    .. versionadded:: 0.1

    Example::

        @hookimpl
        def rsu_on_objects(objects):
            fast = [o for o in objects.objects if o.speed_mps > 15]
    """


@hookspec
def rsu_on_reading(reading: SensorReading) -> None:
    """Receive one sample of a plant or air-quality device.

    Called on the plugin's worker thread once per sample (at the device's sampling rate), in event order
    per device.

    :param reading: channel values of one device.

    .. versionadded:: 0.1

    Example::

        @hookimpl
        def rsu_on_reading(reading):
            pm = reading.values.get("pm2_5")
    """


@hookspec
def rsu_on_prediction(prediction: Prediction) -> None:
    """Receive a model prediction (e.g. a fault probability for one device window).

    Called on the plugin's worker thread once per prediction, whichever plugin or host stage produced it
    (for the fault LSTM: once per device window, at the device's sampling rate).

    :param prediction: the score and the device it is about.

    .. versionadded:: 0.1

    Example::

        @hookimpl
        def rsu_on_prediction(prediction):
            if prediction.score > 0.9:
                ...
    """


@hookspec
def rsu_on_alarm(alarm: Alarm) -> None:
    """Receive an alarm raised or cleared by the host or another plugin.

    Called on the plugin's worker thread once per change of state (raise or clear), not repeatedly while
    active.

    :param alarm: what, where, and whether it is now active.

    .. versionadded:: 0.1

    Example::

        @hookimpl
        def rsu_on_alarm(alarm):
            if alarm.active and alarm.severity == "critical":
                ...
    """


@hookspec
def rsu_on_command(command: ActuationCommand) -> None:
    """Receive a request to switch an actuator, made by the host or another plugin.

    Called on the plugin's worker thread once per command a plugin emitted (the emitter itself does not
    receive it). A plugin that drives actuators executes the commands for the actuators it owns and ignores
    the others; ``command_id`` is unique, so a command seen twice must not be executed twice.

    :param command: which actuator, what to do and why.

    .. versionadded:: 0.2

    Example::

        @hookimpl
        def rsu_on_command(command):
            if command.actuator in self.actuators:
                self.submit(command)
    """


@hookspec
def rsu_on_actuation(outcome: ActuationOutcome) -> None:
    """Receive the outcome of an actuator command (confirmed, or failed after retries).

    Called on the plugin's worker thread once per command, after its last attempt.

    :param outcome: the command and whether the actuator confirmed it.

    .. versionadded:: 0.1

    Example::

        @hookimpl
        def rsu_on_actuation(outcome):
            if not outcome.ok:
                ...
    """


@hookspec
def rsu_on_health(event: HealthEvent) -> None:
    """Receive a change in the health of a source, plugin, model or link.

    Called on the plugin's worker thread once per report (e.g. a camera going ``down`` and back ``ok``, a
    plugin being disabled).

    :param event: the component and its new status.

    .. versionadded:: 0.1

    Example::

        @hookimpl
        def rsu_on_health(event):
            if event.status == "down":
                ...
    """
