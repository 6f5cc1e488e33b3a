"""Helpers of the hazard_warning tests: zones, cycles and tracks."""

from __future__ import annotations

from typing import Any

from rsu_sdk import FusedObject, ObjectList
from rsu_sdk.testing import T0_NS, make_fused_object

MS = 1_000_000
LANE_EAST = {"id": "east-out", "kind": "lane", "heading_deg": 90.0,
             "polygon": [[8.0, -3.5], [70.0, -3.5], [70.0, 0.0], [8.0, 0.0]]}
LANE_WEST_IN = {"id": "east-in", "kind": "lane", "heading_deg": 270.0, "queue_m": 20.0,
                "polygon": [[70.0, 0.0], [8.0, 0.0], [8.0, 3.5], [70.0, 3.5]]}
CROSSING = {"id": "cw", "kind": "crossing", "polygon": [[9.0, -4.0], [13.0, -4.0], [13.0, 4.0], [9.0, 4.0]]}
ZONES: list[dict[str, Any]] = [LANE_EAST, LANE_WEST_IN, CROSSING]


def cycle(k: int, *objects: FusedObject, period_ms: int = 100) -> ObjectList:
    """Fusion cycle ``k`` (every ``period_ms``) holding ``objects``."""
    return ObjectList(source="fusion", t_event_ns=T0_NS + k * period_ms * MS, objects=tuple(objects))


def car(track_id: int, x: float, y: float, ve: float = 0.0, vn: float = 0.0, **kw: Any) -> FusedObject:
    """A confirmed car at ENU ``(x, y)`` moving at ``(ve, vn)``."""
    return make_fused_object(track_id, position_enu=(x, y, 0.0), velocity_enu=(ve, vn), class_name="car",
                             lat=48.0, lon=11.0, **kw)


def person(track_id: int, x: float, y: float, ve: float = 0.0, vn: float = 1.2, **kw: Any) -> FusedObject:
    """A confirmed pedestrian."""
    return make_fused_object(track_id, position_enu=(x, y, 0.0), velocity_enu=(ve, vn), class_name="pedestrian",
                             lat=48.0, lon=11.0, **kw)
