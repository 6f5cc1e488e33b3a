"""The ``furnace_fault`` plugin: the host's fault probabilities -> alarms with hysteresis, per device.

Each raise and clear is emitted as an :class:`~rsu_sdk.Alarm` with ``source`` = the device; the host
publishes it (topic ``rsu/<site>/fault/<device>``, schema ``rsu.fault.alarm/1``) and routes it to the other
plugins, so this plugin builds no wire payload.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from typing import Any

from rsu_sdk import Alarm, ModelSpec, PluginContext, Prediction, hookimpl

from rsu_furnace_fault.alarm import AlarmRule, DeviceAlarm
from rsu_furnace_fault.model import FP32_NAME, INT8_NAME, load_metadata, model_specs

__all__ = ["FurnaceFault", "ALARM_KIND", "ALARM_SCHEMA"]

ALARM_KIND = "furnace_fault"
ALARM_SCHEMA = "rsu.fault.alarm/1"
"""The schema id the host publishes this plugin's alarms with."""

CONFIG_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object",
    "properties": {
        "model": {"enum": [FP32_NAME, INT8_NAME], "description": "which variant's predictions to act on"},
        "raise_threshold": {"type": "number", "minimum": 0, "maximum": 1},
        "clear_threshold": {"type": "number", "minimum": 0, "maximum": 1},
        "min_duration_s": {"type": "number", "minimum": 0},
        "severity": {"enum": ["info", "warning", "critical"]},
        "devices": {"type": "array", "items": {"type": "string", "minLength": 1}, "uniqueItems": True,
                    "description": "act on these devices only (default: every device)"},
    },
    "additionalProperties": False,
}


class FurnaceFault:
    """Ships the fault LSTM and raises/clears ``furnace_fault`` alarms from its predictions.

    Hooks run on this plugin's worker thread, one call at a time; the lock guards :meth:`active_devices`,
    which may be called from any thread.

    Predictions from another model name, or for a device not listed in ``devices``, are ignored.
    """

    def __init__(self) -> None:
        self._ctx: PluginContext | None = None
        self._rule = AlarmRule()
        self._model = FP32_NAME
        self._severity = "warning"
        self._devices: frozenset[str] | None = None
        self._state: dict[str, DeviceAlarm] = {}
        self._lock = threading.Lock()

    # -- configuration and registration ----------------------------------------------------------

    @hookimpl
    def rsu_config_schema(self) -> Mapping[str, Any]:
        return CONFIG_SCHEMA

    @hookimpl
    def rsu_register_models(self) -> Sequence[ModelSpec]:
        return model_specs()

    @hookimpl
    def rsu_on_start(self, context: PluginContext) -> None:
        cfg = context.config
        defaults = load_metadata()
        self._rule = AlarmRule(
            raise_threshold=float(cfg.get("raise_threshold", defaults.get("raise_threshold", 0.98))),
            clear_threshold=float(cfg.get("clear_threshold", defaults.get("clear_threshold", 0.6))),
            min_duration_s=float(cfg.get("min_duration_s", defaults.get("min_duration_s", 30.0))),
        )
        self._model = str(cfg.get("model", FP32_NAME))
        self._severity = str(cfg.get("severity", "warning"))
        devices = cfg.get("devices")
        self._devices = frozenset(devices) if devices else None
        self._state = {}
        self._ctx = context
        context.logger.info("furnace_fault: model %s, raise >= %.2f, clear < %.2f, min %.1f s", self._model,
                            self._rule.raise_threshold, self._rule.clear_threshold, self._rule.min_duration_s)

    @hookimpl
    def rsu_on_stop(self) -> None:
        self._ctx = None

    # -- products ----------------------------------------------------------------------------------

    @hookimpl
    def rsu_on_prediction(self, prediction: Prediction) -> None:
        ctx = self._ctx
        if ctx is None or prediction.model != self._model:
            return
        if self._devices is not None and prediction.device not in self._devices:
            return
        with self._lock:
            state = self._state.get(prediction.device)
            if state is None:
                state = self._state[prediction.device] = DeviceAlarm(self._rule)
            change = state.update(prediction.score, prediction.t_event_ns)
        if change is None:
            return
        verb = "raised" if change else "cleared"
        ctx.emit(Alarm(source=prediction.device, t_event_ns=prediction.t_event_ns, device=prediction.device,
                       kind=ALARM_KIND, active=change, severity=self._severity, score=float(prediction.score),
                       message=f"fault probability {prediction.score:.2f} ({verb}; model {prediction.model})"))

    def active_devices(self) -> list[str]:
        """Devices whose alarm is raised now."""
        with self._lock:
            return sorted(d for d, s in self._state.items() if s.active)
