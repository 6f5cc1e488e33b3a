"""The typed data model passed between the rsu host and its plugins.

Every value is a frozen, slotted, keyword-only dataclass that carries its event time
(``t_event_ns``, integer nanoseconds since the Unix epoch) and its ``source``.
Plugins never mutate a value: build a new one with :func:`dataclasses.replace`.
Arrays are validated on construction and made read-only.

Positions are metres East/North/Up (ENU) from the site origin; latitude/longitude are WGS84 degrees.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from rsu_sdk.errors import InvalidDataError

__all__ = [
    "Frame",
    "Detections",
    "RadarObject",
    "RadarScan",
    "FusedObject",
    "ObjectList",
    "SensorReading",
    "Prediction",
    "Alarm",
    "ActuationCommand",
    "ActuationOutcome",
    "HealthEvent",
    "Product",
]

_frozen = dict(frozen=True, slots=True, kw_only=True)


def _check_time(owner: str, t_event_ns: int) -> None:
    if isinstance(t_event_ns, bool) or not isinstance(t_event_ns, (int, np.integer)):
        raise InvalidDataError(f"{owner}.t_event_ns: expected int nanoseconds, got {type(t_event_ns).__name__}")
    if t_event_ns < 0:
        raise InvalidDataError(f"{owner}.t_event_ns: must be >= 0, got {t_event_ns}")


def _check_source(owner: str, source: str) -> None:
    if not isinstance(source, str) or not source:
        raise InvalidDataError(f"{owner}.source: expected a non-empty string, got {source!r}")


def _readonly(owner: str, name: str, value: Any, dtype: Any, shape: tuple[int | None, ...]) -> np.ndarray:
    """Return ``value`` as a read-only array of ``dtype``, checking its shape (None = any length)."""
    try:
        arr = np.array(value, dtype=dtype, copy=True)
    except (TypeError, ValueError) as exc:
        raise InvalidDataError(f"{owner}.{name}: cannot convert to {np.dtype(dtype).name}: {exc}") from None
    if arr.ndim != len(shape) or any(want is not None and got != want for got, want in zip(arr.shape, shape)):
        pretty = "(" + ", ".join("N" if s is None else str(s) for s in shape) + ("," if len(shape) == 1 else "") + ")"
        raise InvalidDataError(f"{owner}.{name}: expected shape {pretty}, got {arr.shape}")
    arr.setflags(write=False)
    return arr


def _finite(owner: str, name: str, values: tuple[float, ...]) -> None:
    if not all(math.isfinite(v) for v in values):
        raise InvalidDataError(f"{owner}.{name}: expected finite numbers, got {values}")


@dataclass(**_frozen)
class Frame:
    """One decoded camera image.

    :param image: ``(H, W, 3)`` uint8 BGR pixels (read-only).
    :param frame_id: the source's frame counter.
    """

    source: str
    t_event_ns: int
    frame_id: int
    image: npt.NDArray[np.uint8]

    def __post_init__(self) -> None:
        _check_source("Frame", self.source)
        _check_time("Frame", self.t_event_ns)
        object.__setattr__(self, "image", _readonly("Frame", "image", self.image, np.uint8, (None, None, 3)))

    @property
    def size(self) -> tuple[int, int]:
        """``(width, height)`` in pixels."""
        return int(self.image.shape[1]), int(self.image.shape[0])


@dataclass(**_frozen)
class Detections:
    """Objects a detector found in one camera frame, as parallel arrays of length N.

    :param xyxy: ``(N, 4)`` float32 boxes in pixels, ``x1, y1, x2, y2``.
    :param confidence: ``(N,)`` float32 scores in ``[0, 1]``.
    :param class_id: ``(N,)`` int32 indices into ``class_names``.
    :param class_names: the model's label map.
    :param image_size: ``(width, height)`` of the frame the boxes refer to.
    :param track_id: ``(N,)`` int64 track ids, ``-1`` where untracked; ``None`` when no tracker ran.
    """

    source: str
    t_event_ns: int
    frame_id: int
    xyxy: npt.NDArray[np.float32]
    confidence: npt.NDArray[np.float32]
    class_id: npt.NDArray[np.int32]
    class_names: tuple[str, ...]
    image_size: tuple[int, int]
    track_id: npt.NDArray[np.int64] | None = None

    def __post_init__(self) -> None:
        owner = "Detections"
        _check_source(owner, self.source)
        _check_time(owner, self.t_event_ns)
        xyxy = _readonly(owner, "xyxy", np.reshape(self.xyxy, (-1, 4)) if np.size(self.xyxy) == 0 else self.xyxy,
                         np.float32, (None, 4))
        n = xyxy.shape[0]
        conf = _readonly(owner, "confidence", self.confidence, np.float32, (n,))
        cls = _readonly(owner, "class_id", self.class_id, np.int32, (n,))
        object.__setattr__(self, "xyxy", xyxy)
        object.__setattr__(self, "confidence", conf)
        object.__setattr__(self, "class_id", cls)
        object.__setattr__(self, "class_names", tuple(self.class_names))
        if self.track_id is not None:
            object.__setattr__(self, "track_id", _readonly(owner, "track_id", self.track_id, np.int64, (n,)))
        if n and (cls.min() < 0 or cls.max() >= len(self.class_names)):
            raise InvalidDataError(
                f"{owner}.class_id: values must index class_names (0..{len(self.class_names) - 1}), "
                f"got {int(cls.min())}..{int(cls.max())}"
            )
        if n and (conf.min() < 0 or conf.max() > 1):
            raise InvalidDataError(f"{owner}.confidence: values must lie in [0, 1]")
        w, h = self.image_size
        if w <= 0 or h <= 0:
            raise InvalidDataError(f"{owner}.image_size: expected positive (width, height), got {self.image_size}")
        object.__setattr__(self, "image_size", (int(w), int(h)))

    def __len__(self) -> int:
        return int(self.xyxy.shape[0])

    @property
    def labels(self) -> list[str]:
        """Class name of each detection."""
        return [self.class_names[i] for i in self.class_id]


@dataclass(**_frozen)
class RadarObject:
    """One object of a radar cycle, in the radar's own frame (x forward, y left), SI units.

    :param object_id: the sensor's object id (reused by the sensor after the object is gone).
    :param dist_long: longitudinal distance, m.   :param dist_lat: lateral distance, m.
    :param vrel_long: relative longitudinal speed, m/s.   :param vrel_lat: relative lateral speed, m/s.
    :param rcs: radar cross-section, dBm².
    :param dyn_prop: dynamic property code (0 moving, 1 stationary, 2 oncoming, ...; ARS408 table).
    :param class_name: ``point``, ``car``, ``truck``, ``pedestrian``, ``motorcycle``, ``bicycle``, ``wide`` or ``unknown``.
    :param prob_exist: probability of existence in ``[0, 1]``, ``None`` when not reported.
    """

    object_id: int
    dist_long: float
    dist_lat: float
    vrel_long: float = 0.0
    vrel_lat: float = 0.0
    rcs: float = 0.0
    dyn_prop: int = 0
    class_name: str = "unknown"
    prob_exist: float | None = None
    length: float | None = None
    width: float | None = None
    orientation_deg: float | None = None

    def __post_init__(self) -> None:
        _finite("RadarObject", "position/velocity",
                (self.dist_long, self.dist_lat, self.vrel_long, self.vrel_lat, self.rcs))
        if self.prob_exist is not None and not 0.0 <= self.prob_exist <= 1.0:
            raise InvalidDataError(f"RadarObject.prob_exist: must lie in [0, 1], got {self.prob_exist}")


@dataclass(**_frozen)
class RadarScan:
    """One complete radar measurement cycle.

    :param cycle: the sensor's measurement counter.
    :param objects: the objects of the cycle.
    """

    source: str
    t_event_ns: int
    cycle: int
    objects: tuple[RadarObject, ...] = ()

    def __post_init__(self) -> None:
        _check_source("RadarScan", self.source)
        _check_time("RadarScan", self.t_event_ns)
        object.__setattr__(self, "objects", tuple(self.objects))
        for i, obj in enumerate(self.objects):
            if not isinstance(obj, RadarObject):
                raise InvalidDataError(f"RadarScan.objects[{i}]: expected RadarObject, got {type(obj).__name__}")


TrackState = Literal["tentative", "confirmed", "lost"]


@dataclass(**_frozen)
class FusedObject:
    """One tracked object in world coordinates.

    :param track_id: stable id for the life of the track.
    :param position_enu: ``(east, north, up)`` metres from the site origin.
    :param velocity_enu: ``(v_east, v_north)`` m/s.
    :param heading_deg: direction of travel, degrees clockwise from North in ``[0, 360)``.
    :param size: ``(length, width, height)`` metres; ``None`` when unknown.
    :param lat: WGS84 latitude, degrees.   :param lon: WGS84 longitude, degrees.
    :param sources: ids of the sensors that contributed to the last update.
    :param age_s: seconds since the track was created.
    """

    track_id: int
    position_enu: tuple[float, float, float]
    velocity_enu: tuple[float, float]
    heading_deg: float
    class_name: str
    confidence: float
    lat: float
    lon: float
    sources: tuple[str, ...] = ()
    size: tuple[float, float, float] | None = None
    age_s: float = 0.0
    state: TrackState = "confirmed"
    position_std_m: float | None = None

    def __post_init__(self) -> None:
        owner = "FusedObject"
        if len(self.position_enu) != 3:
            raise InvalidDataError(f"{owner}.position_enu: expected 3 values, got {len(self.position_enu)}")
        if len(self.velocity_enu) != 2:
            raise InvalidDataError(f"{owner}.velocity_enu: expected 2 values, got {len(self.velocity_enu)}")
        object.__setattr__(self, "position_enu", tuple(float(v) for v in self.position_enu))
        object.__setattr__(self, "velocity_enu", tuple(float(v) for v in self.velocity_enu))
        object.__setattr__(self, "sources", tuple(self.sources))
        _finite(owner, "position_enu", self.position_enu)
        _finite(owner, "velocity_enu", self.velocity_enu)
        if not 0.0 <= self.confidence <= 1.0:
            raise InvalidDataError(f"{owner}.confidence: must lie in [0, 1], got {self.confidence}")

    @property
    def speed_mps(self) -> float:
        """Ground speed, m/s."""
        return math.hypot(*self.velocity_enu)


@dataclass(**_frozen)
class ObjectList:
    """All tracked objects of one fusion cycle."""

    source: str
    t_event_ns: int
    objects: tuple[FusedObject, ...] = ()

    def __post_init__(self) -> None:
        _check_source("ObjectList", self.source)
        _check_time("ObjectList", self.t_event_ns)
        object.__setattr__(self, "objects", tuple(self.objects))


@dataclass(**_frozen)
class SensorReading:
    """One sample of a plant or air-quality device.

    :param device: the device id (the key of per-device state, e.g. ``furnace-1``).
    :param values: channel name -> value (read-only mapping), e.g. ``{"pm2_5": 42.0}``.
    :param units: channel name -> unit string, optional.
    """

    source: str
    t_event_ns: int
    device: str
    values: Mapping[str, float]
    units: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        _check_source("SensorReading", self.source)
        _check_time("SensorReading", self.t_event_ns)
        if not self.device:
            raise InvalidDataError("SensorReading.device: expected a non-empty string")
        try:
            values = {str(k): float(v) for k, v in self.values.items()}
        except (TypeError, ValueError) as exc:
            raise InvalidDataError(f"SensorReading.values: expected name -> number, {exc}") from None
        object.__setattr__(self, "values", MappingProxyType(values))
        object.__setattr__(self, "units", MappingProxyType(dict(self.units)))

    def __reduce__(self) -> tuple[Any, tuple[Any, ...]]:
        """Picklable (read-only mappings are not): rebuilt through the constructor."""
        return _new_reading, (self.source, self.t_event_ns, self.device, dict(self.values), dict(self.units))


def _new_reading(source: str, t_event_ns: int, device: str, values: dict[str, float],
                 units: dict[str, str]) -> SensorReading:
    return SensorReading(source=source, t_event_ns=t_event_ns, device=device, values=values, units=units)


@dataclass(**_frozen)
class Prediction:
    """A model's output for one device window (e.g. a fault probability).

    :param model: the model name.   :param score: the model output, e.g. a probability in ``[0, 1]``.
    """

    source: str
    t_event_ns: int
    device: str
    model: str
    score: float
    label: str | None = None

    def __post_init__(self) -> None:
        _check_source("Prediction", self.source)
        _check_time("Prediction", self.t_event_ns)
        _finite("Prediction", "score", (self.score,))


@dataclass(**_frozen)
class Alarm:
    """An alarm raised or cleared by a plugin or the host.

    :param active: True when raised, False when cleared.
    :param kind: what the alarm is about, e.g. ``furnace_fault``, ``actuator_unreachable``.
    :param severity: ``info``, ``warning`` or ``critical``.
    """

    source: str
    t_event_ns: int
    device: str
    kind: str
    active: bool
    severity: Literal["info", "warning", "critical"] = "warning"
    score: float | None = None
    message: str = ""

    def __post_init__(self) -> None:
        _check_source("Alarm", self.source)
        _check_time("Alarm", self.t_event_ns)


@dataclass(**_frozen)
class ActuationCommand:
    """A request to switch an actuator (e.g. a dust sprayer).

    :param command_id: unique id so that a command is never executed twice.
    :param action: ``on`` or ``off``.
    """

    source: str
    t_event_ns: int
    actuator: str
    action: Literal["on", "off"]
    command_id: str
    reason: str = ""

    def __post_init__(self) -> None:
        _check_source("ActuationCommand", self.source)
        _check_time("ActuationCommand", self.t_event_ns)
        if self.action not in ("on", "off"):
            raise InvalidDataError(f"ActuationCommand.action: expected 'on' or 'off', got {self.action!r}")


@dataclass(**_frozen)
class ActuationOutcome:
    """What happened to an :class:`ActuationCommand`.

    :param ok: True when the actuator confirmed the new state.
    :param attempts: how many writes it took.
    """

    source: str
    t_event_ns: int
    command: ActuationCommand
    ok: bool
    attempts: int = 1
    error: str | None = None


@dataclass(**_frozen)
class HealthEvent:
    """A change in the health of a component (source, plugin, model, link).

    :param component: e.g. ``source:cam-1`` or ``plugin:traffic_broadcast``.
    :param status: ``ok``, ``degraded`` or ``down``.
    """

    source: str
    t_event_ns: int
    component: str
    status: Literal["ok", "degraded", "down"]
    message: str = ""


Product = (
    Frame | Detections | RadarScan | ObjectList | SensorReading | Prediction | Alarm | ActuationCommand
    | ActuationOutcome | HealthEvent
)
"""Any value that flows through the host to plugins."""
