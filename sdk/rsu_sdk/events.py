"""Plant, alarm and control values: readings, predictions, alarms, actuator commands and health events.

Their fields are scalars, tuples and read-only mappings; ``==`` and ``hash`` compare them as values.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Literal, get_args

import numpy as np

from rsu_sdk._checks import FROZEN, check_finite, check_literal, check_source, check_time
from rsu_sdk.errors import InvalidDataError

__all__ = [
    "ACTIONS", "HEALTH_STATUSES", "SEVERITIES", "Action", "ActuationCommand", "ActuationOutcome", "Alarm",
    "HealthEvent", "HealthStatus", "Prediction", "SensorReading", "Severity",
]

Severity = Literal["info", "warning", "critical"]
SEVERITIES: tuple[str, ...] = get_args(Severity)
"""Allowed :attr:`Alarm.severity` values."""

Action = Literal["on", "off"]
ACTIONS: tuple[str, ...] = get_args(Action)
"""Allowed :attr:`ActuationCommand.action` values."""

HealthStatus = Literal["ok", "degraded", "down"]
HEALTH_STATUSES: tuple[str, ...] = get_args(HealthStatus)
"""Allowed :attr:`HealthEvent.status` values."""


@dataclass(**FROZEN, eq=False)
class SensorReading:
    """One sample of a plant or air-quality device.

    :param source: the source id from the config that read it, e.g. ``plant-1`` or ``air-1``.
    :param t_event_ns: sampling time, integer ns since the Unix epoch.
    :param device: the device id (the key of per-device state), e.g. ``furnace-1`` or ``aq-1``.
    :param values: channel name -> value (a read-only mapping of floats), e.g. ``{"pm2_5": 42.0}``.
    :param units: channel name -> unit string (read-only, may be empty), e.g. ``{"pm2_5": "ug/m3"}``.
    """

    source: str
    t_event_ns: int
    device: str
    values: Mapping[str, float]
    units: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        check_source("SensorReading", self.source)
        check_time("SensorReading", self.t_event_ns)
        if not isinstance(self.device, str) or not self.device:
            raise InvalidDataError(f"SensorReading.device: expected a non-empty string, got {self.device!r}")
        try:
            values = {str(k): float(v) for k, v in self.values.items()}
        except (AttributeError, TypeError, ValueError) as exc:
            raise InvalidDataError(f"SensorReading.values: expected name -> number, {exc}") from None
        object.__setattr__(self, "values", MappingProxyType(values))
        object.__setattr__(self, "units", MappingProxyType({str(k): str(v) for k, v in dict(self.units).items()}))

    def _key(self) -> tuple[Any, ...]:
        return (self.source, self.t_event_ns, self.device, dict(self.values), dict(self.units))

    def __eq__(self, other: object) -> bool:
        if type(other) is not SensorReading:
            return NotImplemented
        return self._key() == other._key()

    def __hash__(self) -> int:
        return hash((SensorReading, self.source, self.t_event_ns, self.device, frozenset(self.values.items())))

    def __reduce__(self) -> tuple[Any, tuple[Any, ...]]:
        """Picklable (read-only mappings are not): rebuilt through the constructor."""
        return _new_reading, (self.source, self.t_event_ns, self.device, dict(self.values), dict(self.units))


def _new_reading(source: str, t_event_ns: int, device: str, values: dict[str, float],
                 units: dict[str, str]) -> SensorReading:
    return SensorReading(source=source, t_event_ns=t_event_ns, device=device, values=values, units=units)


@dataclass(**FROZEN)
class Prediction:
    """A model's output for one device window (e.g. a fault probability).

    :param source: the stage or plugin that ran the model, e.g. ``fault_prediction``.
    :param t_event_ns: event time of the window's newest sample, integer ns since the Unix epoch.
    :param device: the device the window belongs to.
    :param model: the model name, e.g. ``fault-lstm``.
    :param score: the model output, a finite number (a probability in ``[0, 1]`` for ``fault-lstm``).
    :param label: an optional class label for the score; ``None`` when the model gives none.
    """

    source: str
    t_event_ns: int
    device: str
    model: str
    score: float
    label: str | None = None

    def __post_init__(self) -> None:
        check_source("Prediction", self.source)
        check_time("Prediction", self.t_event_ns)
        check_finite("Prediction", "score", (self.score,))


@dataclass(**FROZEN)
class Alarm:
    """An alarm raised or cleared by a plugin or the host.

    :param source: who it is from or about; it becomes the last topic level (``rsu/<site>/fault/<source>``),
        so the built-in plugins put the device there (``furnace-2``, ``spr-1``).
    :param t_event_ns: event time of the change, integer ns since the Unix epoch.
    :param device: the device the alarm is about.
    :param kind: what the alarm is about, e.g. ``furnace_fault``, ``actuator_unreachable``.
    :param active: True when raised, False when cleared.
    :param severity: one of :data:`SEVERITIES`: ``info``, ``warning`` or ``critical``.
    :param score: the value that triggered it (e.g. the fault probability); ``None`` when there is none.
    :param message: a human-readable explanation (may be empty).
    """

    source: str
    t_event_ns: int
    device: str
    kind: str
    active: bool
    severity: Severity = "warning"
    score: float | None = None
    message: str = ""

    def __post_init__(self) -> None:
        check_source("Alarm", self.source)
        check_time("Alarm", self.t_event_ns)
        check_literal("Alarm", "severity", self.severity, SEVERITIES)


@dataclass(**FROZEN)
class ActuationCommand:
    """A request to switch an actuator (e.g. a dust sprayer).

    :param source: who it is for; it becomes the last topic level (``rsu/<site>/actuation/<source>``), so the
        built-in plugins put the actuator id there.
    :param t_event_ns: event time of the decision (e.g. of the reading that caused it), integer ns.
    :param actuator: the actuator id, e.g. ``spr-1``.
    :param action: one of :data:`ACTIONS`: ``on`` or ``off``.
    :param command_id: unique id, so that a command is never executed twice.
    :param reason: a human-readable explanation (may be empty).
    """

    source: str
    t_event_ns: int
    actuator: str
    action: Action
    command_id: str
    reason: str = ""

    def __post_init__(self) -> None:
        check_source("ActuationCommand", self.source)
        check_time("ActuationCommand", self.t_event_ns)
        check_literal("ActuationCommand", "action", self.action, ACTIONS)
        if not isinstance(self.command_id, str) or not self.command_id:
            raise InvalidDataError(f"ActuationCommand.command_id: expected a non-empty string, got {self.command_id!r}")


@dataclass(**FROZEN)
class ActuationOutcome:
    """What happened to an :class:`ActuationCommand`.

    :param source: as for the command: the last topic level (the built-in plugins put the actuator id there).
    :param t_event_ns: when the outcome was known (wall clock), integer ns since the Unix epoch.
    :param command: the command it is the outcome of.
    :param ok: True when the actuator confirmed the new state.
    :param attempts: how many tries it took (>= 1).
    :param error: why the last try failed; ``None`` when ``ok``.
    """

    source: str
    t_event_ns: int
    command: ActuationCommand
    ok: bool
    attempts: int = 1
    error: str | None = None

    def __post_init__(self) -> None:
        check_source("ActuationOutcome", self.source)
        check_time("ActuationOutcome", self.t_event_ns)
        if not isinstance(self.command, ActuationCommand):
            raise InvalidDataError(
                f"ActuationOutcome.command: expected ActuationCommand, got {type(self.command).__name__}")


@dataclass(**FROZEN, eq=False)
class HealthEvent:
    """The health of a component (source, plugin, model or link): on every change, and as the box's heartbeat.

    :param source: who reports it, e.g. ``rsu`` (the host) or a source id.
    :param t_event_ns: when it was observed, integer ns since the Unix epoch.
    :param component: ``<kind>:<id>``, e.g. ``source:cam-1`` or ``plugin:traffic_broadcast``.
    :param status: one of :data:`HEALTH_STATUSES`: ``ok``, ``degraded`` or ``down``.
    :param message: a human-readable explanation (may be empty), e.g. the last error.
    :param details: the component's counters and state (e.g. rates, drops, the last error), JSON-like: str keys;
        numbers, strings, booleans, None, nested mappings and lists. Kept as a read-only copy (lists become
        tuples); empty by default.
    :param heartbeat: True on the box's periodic report (published with ``"heartbeat": true`` and its
        ``details``), False on a change.

    .. versionchanged:: 0.3 ``details`` and ``heartbeat`` added (defaults keep the old values and payload).
    """

    source: str
    t_event_ns: int
    component: str
    status: HealthStatus
    message: str = ""
    details: Mapping[str, Any] = field(default_factory=dict)
    heartbeat: bool = False

    def __post_init__(self) -> None:
        check_source("HealthEvent", self.source)
        check_time("HealthEvent", self.t_event_ns)
        check_literal("HealthEvent", "status", self.status, HEALTH_STATUSES)
        if not isinstance(self.details, Mapping):
            raise InvalidDataError(f"HealthEvent.details: expected a mapping, got {type(self.details).__name__}")
        object.__setattr__(self, "details", _frozen_json(self.details, "HealthEvent.details"))
        object.__setattr__(self, "heartbeat", bool(self.heartbeat))

    def _key(self) -> tuple[Any, ...]:
        return (self.source, self.t_event_ns, self.component, self.status, self.message, thaw(self.details),
                self.heartbeat)

    def __eq__(self, other: object) -> bool:
        if type(other) is not HealthEvent:
            return NotImplemented
        return self._key() == other._key()

    def __hash__(self) -> int:  # details are left out: equal events still hash equal
        return hash((HealthEvent, self.source, self.t_event_ns, self.component, self.status, self.message))

    def __reduce__(self) -> tuple[Any, tuple[Any, ...]]:
        """Picklable (read-only mappings are not): rebuilt through the constructor."""
        return _new_health, (self.source, self.t_event_ns, self.component, self.status, self.message,
                             thaw(self.details), self.heartbeat)


def _new_health(source: str, t_event_ns: int, component: str, status: HealthStatus, message: str,
                details: dict[str, Any], heartbeat: bool) -> HealthEvent:
    return HealthEvent(source=source, t_event_ns=t_event_ns, component=component, status=status, message=message,
                       details=details, heartbeat=heartbeat)


def _frozen_json(value: Any, where: str) -> Any:
    """A read-only copy of JSON-like ``value``; :class:`InvalidDataError` names the first other value."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, Mapping):
        return MappingProxyType({str(k): _frozen_json(v, f"{where}.{k}") for k, v in value.items()})
    if isinstance(value, (list, tuple)):
        return tuple(_frozen_json(v, f"{where}[{i}]") for i, v in enumerate(value))
    raise InvalidDataError(f"{where}: expected a JSON-like value, got {type(value).__name__}")


def thaw(value: Any) -> Any:
    """Plain dicts and lists of a read-only JSON-like value (e.g. :attr:`HealthEvent.details`), for JSON: a
    float that is not finite becomes None (JSON has no NaN)."""
    if isinstance(value, Mapping):
        return {k: thaw(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [thaw(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value
