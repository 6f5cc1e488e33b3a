"""SI values -> the integer codes of the CPM data elements, clamped, never raising.

Each function takes a float (or None) and returns a code within its ASN.1 type's range: a value beyond
the range becomes the type's ``outOfRange`` code (or the nearest limit where the type has none), a
missing or non-finite value the ``unavailable`` code. Confidences are 95 % bounds (1.96 sigma).
"""

from __future__ import annotations

import math

__all__ = [
    "COORD_UNAVAILABLE_CONF",
    "DIM_UNAVAILABLE",
    "SPEED_CONF_UNAVAILABLE",
    "VELOCITY_UNAVAILABLE",
    "ANGLE_UNAVAILABLE",
    "ANGLE_CONF_UNAVAILABLE",
    "altitude_cm",
    "angle_confidence",
    "angle_ddeg",
    "coordinate_cm",
    "coordinate_confidence",
    "confidence_level",
    "delta_time_ms",
    "dimension_dm",
    "latitude",
    "longitude",
    "message_rate_hz",
    "object_age_ms",
    "perception_quality",
    "its_timestamp_ms",
    "length_dm_12b",
    "speed_confidence",
    "velocity_cms",
]

Z95 = 1.96

COORD_MIN, COORD_MAX = -131072, 131071          # CartesianCoordinateLarge: the limits are "out of range"
COORD_CONF_OUT_OF_RANGE, COORD_UNAVAILABLE_CONF = 4095, 4096
VELOCITY_MIN, VELOCITY_MAX, VELOCITY_UNAVAILABLE = -16383, 16382, 16383
SPEED_CONF_OUT_OF_RANGE, SPEED_CONF_UNAVAILABLE = 126, 127
ANGLE_UNAVAILABLE = 3601
ANGLE_CONF_OUT_OF_RANGE, ANGLE_CONF_UNAVAILABLE = 126, 127
DIM_OUT_OF_RANGE, DIM_UNAVAILABLE = 255, 256
DIM_CONF_UNAVAILABLE = 32
CONFIDENCE_UNAVAILABLE = 101
LAT_UNAVAILABLE, LON_UNAVAILABLE = 900000001, 1800000001
ALT_MIN, ALT_MAX, ALT_UNAVAILABLE = -100000, 800000, 800001
OBJECT_AGE_MAX_MS = 1500                        # "observed for more than 1.5 s"

ITS_EPOCH_UNIX_MS = 1_072_915_200_000           # 2004-01-01T00:00:00Z
# UTC leap seconds inserted since the ITS epoch (Unix ms of the first instant after each); TimestampIts is TAI.
_LEAPS_UNIX_MS = (1_136_073_600_000, 1_230_768_000_000, 1_341_100_800_000, 1_435_708_800_000, 1_483_228_800_000)
TIMESTAMP_MAX = 4_398_046_511_103


def _missing(value: float | None) -> bool:
    return value is None or not math.isfinite(value)


def _clamp(value: int, lo: int, hi: int) -> int:
    return lo if value < lo else hi if value > hi else value


def coordinate_cm(metres: float | None) -> int:
    """CartesianCoordinateLarge (0.01 m): beyond +-1310.7 m -> the out-of-range limits; missing -> 0."""
    if metres is None or math.isnan(metres):
        return 0
    if math.isinf(metres):
        return COORD_MAX if metres > 0 else COORD_MIN
    return _clamp(round(metres * 100.0), COORD_MIN, COORD_MAX)


def coordinate_confidence(std_m: float | None) -> int:
    """CoordinateConfidence (0.01 m, 95 %): 1..4094, 4095 out of range, 4096 unavailable."""
    if _missing(std_m) or std_m < 0:
        return COORD_UNAVAILABLE_CONF
    cm = round(Z95 * std_m * 100.0)
    return COORD_CONF_OUT_OF_RANGE if cm > 4094 else max(cm, 1)


def velocity_cms(mps: float | None) -> int:
    """VelocityComponentValue (0.01 m/s): -16383 / 16382 out of range, 16383 unavailable."""
    if _missing(mps):
        return VELOCITY_UNAVAILABLE
    return _clamp(round(mps * 100.0), VELOCITY_MIN, VELOCITY_MAX)


def speed_confidence(std_mps: float | None) -> int:
    """SpeedConfidence (0.01 m/s, 95 %): 1..125, 126 out of range, 127 unavailable."""
    if _missing(std_mps) or std_mps < 0:
        return SPEED_CONF_UNAVAILABLE
    cms = round(Z95 * std_mps * 100.0)
    return SPEED_CONF_OUT_OF_RANGE if cms > 125 else max(cms, 1)


def angle_ddeg(degrees: float | None) -> int:
    """CartesianAngleValue (0.1 degree, wrapped to 0..3599), 3601 unavailable."""
    if _missing(degrees):
        return ANGLE_UNAVAILABLE
    return round(degrees * 10.0) % 3600


def angle_confidence(std_deg: float | None) -> int:
    """AngleConfidence (0.1 degree, 95 %): 1..125, 126 out of range, 127 unavailable."""
    if _missing(std_deg) or std_deg < 0:
        return ANGLE_CONF_UNAVAILABLE
    dd = round(Z95 * std_deg * 10.0)
    return ANGLE_CONF_OUT_OF_RANGE if dd > 125 else max(dd, 1)


def dimension_dm(metres: float | None) -> int:
    """ObjectDimensionValue (0.1 m): 1..254, 255 out of range, 256 unavailable (also for <= 0)."""
    if _missing(metres) or metres <= 0:
        return DIM_UNAVAILABLE
    dm = round(metres * 10.0)
    return DIM_OUT_OF_RANGE if dm > 254 else max(dm, 1)


def length_dm_12b(metres: float | None) -> int:
    """StandardLength12b (0.1 m), 0..4095 (no special codes: clamped)."""
    if _missing(metres):
        return 0
    return _clamp(round(metres * 10.0), 0, 4095)


def delta_time_ms(ms: float) -> int:
    """DeltaTimeMilliSecondSigned, clamped to -2048..2047."""
    if _missing(ms):
        return 0
    return _clamp(round(ms), -2048, 2047)


def object_age_ms(seconds: float | None) -> int:
    """objectAge in ms, 0..1500 (1500: observed for more than 1.5 s)."""
    if _missing(seconds):
        return 0
    return _clamp(round(seconds * 1000.0), 0, OBJECT_AGE_MAX_MS)


def perception_quality(confidence: float | None) -> int:
    """ObjectPerceptionQuality 0..15 from a confidence in [0, 1] (0 when missing)."""
    if _missing(confidence):
        return 0
    return _clamp(round(confidence * 15.0), 0, 15)


def confidence_level(confidence: float | None) -> int:
    """ConfidenceLevel (percent) 1..100, 101 unavailable, from a confidence in [0, 1]."""
    if _missing(confidence):
        return CONFIDENCE_UNAVAILABLE
    return _clamp(round(confidence * 100.0), 1, 100)


def latitude(degrees: float | None) -> int:
    """Latitude (0.1 micro-degree), 900000001 unavailable."""
    if _missing(degrees) or abs(degrees) > 90.0:
        return LAT_UNAVAILABLE
    return round(degrees * 1e7)


def longitude(degrees: float | None) -> int:
    """Longitude (0.1 micro-degree), 1800000001 unavailable."""
    if _missing(degrees) or abs(degrees) > 180.0:
        return LON_UNAVAILABLE
    return _clamp(round(degrees * 1e7), -1800000000 + 1, 1800000000)


def altitude_cm(metres: float | None) -> int:
    """AltitudeValue (0.01 m): -100000 / 800000 out of range, 800001 unavailable."""
    if _missing(metres):
        return ALT_UNAVAILABLE
    return _clamp(round(metres * 100.0), ALT_MIN, ALT_MAX)


def its_timestamp_ms(unix_ns: int) -> int:
    """TimestampIts: TAI milliseconds since 2004-01-01T00:00:00Z, from Unix (UTC) nanoseconds."""
    unix_ms = unix_ns // 1_000_000
    leaps = sum(1 for t in _LEAPS_UNIX_MS if unix_ms >= t)
    return _clamp(unix_ms - ITS_EPOCH_UNIX_MS + 1000 * leaps, 0, TIMESTAMP_MAX)


def message_rate_hz(hz: float) -> dict[str, int]:
    """MessageRateHz ``mantissa * 10**exponent`` (mantissa 1..100, exponent -5..2) closest to ``hz``."""
    if _missing(hz) or hz <= 0:
        return {"mantissa": 1, "exponent": -5}
    for exponent in range(-5, 3):
        mantissa = round(hz / 10.0**exponent)
        if mantissa <= 100:
            return {"mantissa": max(mantissa, 1), "exponent": exponent}
    return {"mantissa": 100, "exponent": 2}
