"""Continental ARS408-21 object-list CAN frames: layout, decoding and encoding.

Pure functions over ``(arbitration_id, data)``; no I/O. Signals are Motorola (big-endian) and
contiguous when the 8 data bytes are read as one big-endian bit string, so each signal is given by
the offset of its most significant bit from bit 7 of byte 0 and its length.

Physical value = ``(raw * num + off) / den`` computed in integers and divided once, so decoded
values are the correctly rounded floats of the sensor's definition (``0.2 m`` steps give ``10.0``,
not ``10.000000000000057``).

Frames (bit offsets MSB-first; bytes per the ARS408 technical documentation, as in the Apache-2.0
Apollo ``conti_radar`` driver):

- ``0x60A`` Obj_0_Status: NofObjects (0, 8), MeasCounter (8, 16), InterfaceVersion (24, 4). DLC >= 4.
  (Apollo's driver reads MeasCounter from bytes 2-3; the sensor's DBC puts it in bytes 1-2.)
- ``0x60B`` Obj_1_General: ID (0, 8), DistLong (8, 13) x0.2 -500 m, DistLat (21, 11) x0.2 -204.6 m,
  VrelLong (32, 10) x0.25 -128 m/s, VrelLat (42, 9) x0.25 -64 m/s, DynProp (53, 3), RCS (56, 8) x0.5 -64 dBm2.
- ``0x60C`` Obj_2_Quality: ID, rms codes, ProbOfExist (48, 3), MeasState (51, 3). DLC >= 7.
- ``0x60D`` Obj_3_Extended: ID, ArelLong (8, 11) x0.01 -10, ArelLat (19, 9) x0.01 -2.5, Class (29, 3),
  OrientationAngle (32, 10) x0.4 -180 deg, Length (48, 8) x0.2 m, Width (56, 8) x0.2 m.
- ``0x201`` RadarState: MaxDistanceCfg (8, 10) x2 m, error flags, SensorID, OutputTypeCfg,
  SendQualityCfg, SendExtInfoCfg, RCS_Threshold.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

__all__ = [
    "OBJ_STATUS", "OBJ_GENERAL", "OBJ_QUALITY", "OBJ_EXTENDED", "RADAR_STATE", "MIN_DLC",
    "CLASS_NAMES", "PROB_OF_EXIST", "FrameError", "ObjStatus", "ObjGeneral", "ObjQuality", "ObjExtended",
    "RadarState", "decode_frame", "encode_status", "encode_general", "encode_quality", "encode_extended",
    "encode_state",
]

OBJ_STATUS, OBJ_GENERAL, OBJ_QUALITY, OBJ_EXTENDED, RADAR_STATE = 0x60A, 0x60B, 0x60C, 0x60D, 0x201
MIN_DLC = {OBJ_STATUS: 4, OBJ_GENERAL: 8, OBJ_QUALITY: 7, OBJ_EXTENDED: 8, RADAR_STATE: 8}

CLASS_NAMES = ("point", "car", "truck", "pedestrian", "motorcycle", "bicycle", "wide", "unknown")
"""Obj_Class codes 0..7 (7 is reserved; decoded as ``unknown``)."""
PROB_OF_EXIST = (0.0, 0.25, 0.5, 0.75, 0.9, 0.99, 0.999, 1.0)
"""Obj_ProbOfExist codes 0..7 as the upper bound of each class (0 = invalid)."""


class FrameError(ValueError):
    """A frame of a known id that cannot be decoded (too short)."""


class _Sig(NamedTuple):
    pos: int  # offset of the MSB from bit 7 of byte 0
    length: int
    num: int = 1
    den: int = 1
    off: int = 0  # physical = (raw * num + off) / den


# 0x60B
_DIST_LONG = _Sig(8, 13, 1, 5, -2500)
_DIST_LAT = _Sig(21, 11, 1, 5, -1023)
_VREL_LONG = _Sig(32, 10, 1, 4, -512)
_VREL_LAT = _Sig(42, 9, 1, 4, -256)
_DYN_PROP = _Sig(53, 3)
_RCS = _Sig(56, 8, 1, 2, -128)
# 0x60D
_AREL_LONG = _Sig(8, 11, 1, 100, -1000)
_AREL_LAT = _Sig(19, 9, 1, 100, -250)
_CLASS = _Sig(29, 3)
_ORIENT = _Sig(32, 10, 2, 5, -900)
_LENGTH = _Sig(48, 8, 1, 5)
_WIDTH = _Sig(56, 8, 1, 5)
_ID = _Sig(0, 8)


def _word(data: bytes) -> int:
    return int.from_bytes(bytes(data).ljust(8, b"\0")[:8], "big")


def _raw(word: int, sig: _Sig) -> int:
    return (word >> (64 - sig.pos - sig.length)) & ((1 << sig.length) - 1)


def _phys(word: int, sig: _Sig) -> float:
    return (_raw(word, sig) * sig.num + sig.off) / sig.den


def _put(word: int, sig: _Sig, raw: int) -> int:
    mask = (1 << sig.length) - 1
    return word | ((raw & mask) << (64 - sig.pos - sig.length))


def _to_raw(sig: _Sig, value: float) -> int:
    """Inverse scaling, rounded to the nearest step and clamped to the signal's range."""
    raw = round((value * sig.den - sig.off) / sig.num)
    return max(0, min((1 << sig.length) - 1, raw))


@dataclass(frozen=True, slots=True)
class ObjStatus:
    nof_objects: int
    meas_counter: int
    interface_version: int


@dataclass(frozen=True, slots=True)
class ObjGeneral:
    object_id: int
    dist_long: float
    dist_lat: float
    vrel_long: float
    vrel_lat: float
    dyn_prop: int
    rcs: float


@dataclass(frozen=True, slots=True)
class ObjQuality:
    object_id: int
    dist_long_rms: int
    dist_lat_rms: int
    vrel_long_rms: int
    vrel_lat_rms: int
    orientation_rms: int
    prob_exist_code: int
    meas_state: int

    @property
    def prob_exist(self) -> float:
        return PROB_OF_EXIST[self.prob_exist_code]


@dataclass(frozen=True, slots=True)
class ObjExtended:
    object_id: int
    arel_long: float
    arel_lat: float
    class_code: int
    orientation_deg: float
    length: float
    width: float

    @property
    def class_name(self) -> str:
        return CLASS_NAMES[self.class_code]


@dataclass(frozen=True, slots=True)
class RadarState:
    max_distance_m: int
    persistent_error: bool
    interference: bool
    temperature_error: bool
    temporary_error: bool
    voltage_error: bool
    sensor_id: int
    output_type: int  # 0 none, 1 objects, 2 clusters
    send_quality: bool
    send_ext_info: bool
    rcs_threshold: int


Message = ObjStatus | ObjGeneral | ObjQuality | ObjExtended | RadarState


def _bit(word: int, pos: int) -> bool:
    return bool((word >> (63 - pos)) & 1)


def decode_frame(arbitration_id: int, data: bytes) -> Message | None:
    """Decode one frame; ``None`` for an id this decoder does not handle; :class:`FrameError` when too short."""
    need = MIN_DLC.get(arbitration_id)
    if need is None:
        return None
    if len(data) < need:
        raise FrameError(f"0x{arbitration_id:03X}: expected at least {need} data bytes, got {len(data)}")
    w = _word(data)
    if arbitration_id == OBJ_GENERAL:
        return ObjGeneral(_raw(w, _ID), _phys(w, _DIST_LONG), _phys(w, _DIST_LAT), _phys(w, _VREL_LONG),
                          _phys(w, _VREL_LAT), _raw(w, _DYN_PROP), _phys(w, _RCS))
    if arbitration_id == OBJ_STATUS:
        return ObjStatus(_raw(w, _Sig(0, 8)), _raw(w, _Sig(8, 16)), _raw(w, _Sig(24, 4)))
    if arbitration_id == OBJ_QUALITY:
        return ObjQuality(_raw(w, _ID), _raw(w, _Sig(8, 5)), _raw(w, _Sig(13, 5)), _raw(w, _Sig(18, 5)),
                          _raw(w, _Sig(23, 5)), _raw(w, _Sig(38, 5)), _raw(w, _Sig(48, 3)), _raw(w, _Sig(51, 3)))
    if arbitration_id == OBJ_EXTENDED:
        return ObjExtended(_raw(w, _ID), _phys(w, _AREL_LONG), _phys(w, _AREL_LAT), _raw(w, _CLASS),
                           _phys(w, _ORIENT), _phys(w, _LENGTH), _phys(w, _WIDTH))
    return RadarState(
        max_distance_m=_raw(w, _Sig(8, 10)) * 2, persistent_error=_bit(w, 18), interference=_bit(w, 19),
        temperature_error=_bit(w, 20), temporary_error=_bit(w, 21), voltage_error=_bit(w, 22),
        sensor_id=_raw(w, _Sig(37, 3)), output_type=_raw(w, _Sig(44, 2)), send_quality=_bit(w, 43),
        send_ext_info=_bit(w, 42), rcs_threshold=_raw(w, _Sig(59, 3)),
    )


# ---------------------------------------------------------------- encoding (simulator, tests)

def encode_status(nof_objects: int, meas_counter: int, interface_version: int = 0) -> bytes:
    """0x60A payload (8 bytes, as the sensor sends it)."""
    w = _put(_put(_put(0, _Sig(0, 8), nof_objects), _Sig(8, 16), meas_counter), _Sig(24, 4), interface_version)
    return w.to_bytes(8, "big")


def encode_general(object_id: int, dist_long: float, dist_lat: float, vrel_long: float = 0.0,
                   vrel_lat: float = 0.0, dyn_prop: int = 0, rcs: float = 0.0) -> bytes:
    """0x60B payload; values are rounded to the sensor's steps and clamped to its ranges."""
    w = _put(0, _ID, object_id)
    for sig, value in ((_DIST_LONG, dist_long), (_DIST_LAT, dist_lat), (_VREL_LONG, vrel_long),
                       (_VREL_LAT, vrel_lat), (_RCS, rcs)):
        w = _put(w, sig, _to_raw(sig, value))
    return _put(w, _DYN_PROP, dyn_prop).to_bytes(8, "big")


def encode_quality(object_id: int, prob_exist: float = 1.0, meas_state: int = 2, rms_code: int = 5) -> bytes:
    """0x60C payload (7 bytes); ``prob_exist`` maps to the smallest code whose bound covers it."""
    code = next(i for i, bound in enumerate(PROB_OF_EXIST) if prob_exist <= bound or i == 7)
    w = _put(0, _ID, object_id)
    for pos in (8, 13, 18, 23, 28, 33, 38):
        w = _put(w, _Sig(pos, 5), rms_code)
    w = _put(_put(w, _Sig(48, 3), code), _Sig(51, 3), meas_state)
    return w.to_bytes(8, "big")[:7]


def encode_extended(object_id: int, class_name: str = "point", orientation_deg: float = 0.0, length: float = 0.0,
                    width: float = 0.0, arel_long: float = 0.0, arel_lat: float = 0.0) -> bytes:
    """0x60D payload."""
    code = CLASS_NAMES.index(class_name) if class_name in CLASS_NAMES else 7
    w = _put(_put(0, _ID, object_id), _CLASS, code)
    for sig, value in ((_AREL_LONG, arel_long), (_AREL_LAT, arel_lat), (_ORIENT, orientation_deg),
                       (_LENGTH, length), (_WIDTH, width)):
        w = _put(w, sig, _to_raw(sig, value))
    return w.to_bytes(8, "big")


def encode_state(max_distance_m: int = 196, sensor_id: int = 0, output_type: int = 1, send_quality: bool = True,
                 send_ext_info: bool = True, errors: tuple[bool, bool, bool, bool, bool] = (False,) * 5) -> bytes:
    """0x201 payload; ``errors`` = persistent, interference, temperature, temporary, voltage."""
    w = _put(0, _Sig(8, 10), max_distance_m // 2)
    for pos, flag in zip((18, 19, 20, 21, 22), errors):
        w = _put(w, _Sig(pos, 1), int(flag))
    w = _put(_put(w, _Sig(37, 3), sensor_id), _Sig(44, 2), output_type)
    w = _put(_put(w, _Sig(43, 1), int(send_quality)), _Sig(42, 1), int(send_ext_info))
    return w.to_bytes(8, "big")
