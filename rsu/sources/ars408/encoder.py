"""Objects -> ARS408 CAN frames, in the order the sensor sends them (simulator and tests)."""

from __future__ import annotations

from collections.abc import Sequence

from rsu_sdk import RadarObject

from rsu.sources.ars408 import layout as L

__all__ = ["encode_cycle", "to_messages"]

Frame = tuple[float, int, bytes]
"""``(timestamp_s, arbitration_id, data)``."""


def encode_cycle(objects: Sequence[RadarObject], meas_counter: int, t_s: float, *, frame_gap_s: float = 0.0002,
                 quality: bool = True, extended: bool = True) -> list[Frame]:
    """One cycle: ``0x60A``, then every object's ``0x60B``, then ``0x60C``, then ``0x60D``.

    At most 100 objects are sent (the sensor's limit); object ids are taken modulo 256.
    """
    objects = list(objects)[:100]
    frames: list[Frame] = [(t_s, L.OBJ_STATUS, L.encode_status(len(objects), meas_counter % 65536, 4)[:8])]
    for o in objects:
        frames.append((0.0, L.OBJ_GENERAL, L.encode_general(o.object_id % 256, o.dist_long, o.dist_lat,
                                                          o.vrel_long, o.vrel_lat, o.dyn_prop, o.rcs)))
    if quality:
        for o in objects:
            pe = 1.0 if o.prob_exist is None else o.prob_exist
            frames.append((0.0, L.OBJ_QUALITY, L.encode_quality(o.object_id % 256, pe)))
    if extended:
        for o in objects:
            frames.append((0.0, L.OBJ_EXTENDED, L.encode_extended(
                o.object_id % 256, o.class_name, o.orientation_deg or 0.0, o.length or 0.0, o.width or 0.0)))
    return [(t_s + i * frame_gap_s, aid, data) for i, (_, aid, data) in enumerate(frames)]


def to_messages(frames: Sequence[Frame], channel: str = "can0") -> list:
    """The frames as ``can.Message`` values."""
    import can

    return [can.Message(timestamp=t, arbitration_id=aid, data=data, is_extended_id=False, channel=channel)
            for t, aid, data in frames]
