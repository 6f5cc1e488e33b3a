"""Zones of the site in ENU metres: carriageway lanes with their direction, other carriageway, crossings.

A zone is a simple polygon (at least three ``[east, north]`` vertices). A ``lane`` has a direction of travel
(``heading_deg``, clockwise from North) and an optional ``queue_m``: the last metres before its downstream
end (a stop line) where vehicles queue, so a vehicle standing there is no hazard. ``carriageway`` is road
surface without one direction (an intersection box); ``crossing`` is where pedestrians may be on the road.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

__all__ = ["KINDS", "ZONES_SCHEMA", "SiteZones", "Zone", "angle_diff_deg", "parse_zones"]

KINDS = ("lane", "carriageway", "crossing")
ZoneKind = Literal["lane", "carriageway", "crossing"]

_POINT = {"type": "array", "items": {"type": "number"}, "minItems": 2, "maxItems": 2}
ZONES_SCHEMA: dict[str, Any] = {
    "type": "array", "maxItems": 256,
    "description": "zones of the site, polygons in ENU metres",
    "items": {
        "type": "object", "additionalProperties": False, "required": ["id", "kind", "polygon"],
        "properties": {
            "id": {"type": "string", "minLength": 1},
            "kind": {"enum": list(KINDS)},
            "polygon": {"type": "array", "items": _POINT, "minItems": 3, "maxItems": 64},
            "heading_deg": {"type": "number", "minimum": 0, "exclusiveMaximum": 360,
                            "description": "lane: direction of travel, degrees clockwise from North"},
            "queue_m": {"type": "number", "minimum": 0, "default": 0,
                        "description": "lane: queue area before its downstream end (no stationary-vehicle hazard)"},
        },
    },
}
"""JSON Schema of ``plugins.hazard_warning.zones``."""


def angle_diff_deg(a: float, b: float) -> float:
    """Smallest absolute difference of two headings, degrees in [0, 180]."""
    return abs((a - b + 180.0) % 360.0 - 180.0)


@dataclass(frozen=True, slots=True, kw_only=True)
class Zone:
    """One polygon zone; ``heading_deg`` and ``queue_m`` apply to lanes."""

    id: str
    kind: ZoneKind
    polygon: tuple[tuple[float, float], ...]
    heading_deg: float | None = None
    queue_m: float = 0.0

    def contains(self, east: float, north: float) -> bool:
        """Whether the point lies inside the polygon (even-odd rule)."""
        inside = False
        pts = self.polygon
        j = len(pts) - 1
        for i in range(len(pts)):
            xi, yi = pts[i]
            xj, yj = pts[j]
            if (yi > north) != (yj > north) and east < (xj - xi) * (north - yi) / (yj - yi) + xi:
                inside = not inside
            j = i
        return inside

    def _along(self, east: float, north: float) -> float:
        h = math.radians(self.heading_deg or 0.0)
        return east * math.sin(h) + north * math.cos(h)

    def in_queue(self, east: float, north: float) -> bool:
        """Lane: whether the point lies within ``queue_m`` of the lane's downstream end."""
        if self.kind != "lane" or self.queue_m <= 0:
            return False
        end = max(self._along(x, y) for x, y in self.polygon)
        return end - self._along(east, north) <= self.queue_m


@dataclass(frozen=True, slots=True)
class SiteZones:
    """All zones of a site, with the look-ups the triggers need."""

    zones: tuple[Zone, ...]

    def lane_at(self, east: float, north: float) -> Zone | None:
        """The first lane containing the point, or None."""
        return next((z for z in self.zones if z.kind == "lane" and z.contains(east, north)), None)

    def on_carriageway(self, east: float, north: float) -> bool:
        """Whether the point lies on a lane or other carriageway."""
        return any(z.kind in ("lane", "carriageway") and z.contains(east, north) for z in self.zones)

    def in_crossing(self, east: float, north: float) -> bool:
        """Whether the point lies in a crossing."""
        return any(z.kind == "crossing" and z.contains(east, north) for z in self.zones)


def parse_zones(items: Sequence[Mapping[str, Any]] | None, where: str = "zones") -> tuple[SiteZones, list[str]]:
    """Zones from config items (already schema-checked); returns them and the problems found, each naming
    its key path (``zones[2].heading_deg: ...``)."""
    zones: list[Zone] = []
    problems: list[str] = []
    seen: set[str] = set()
    for i, item in enumerate(items or ()):
        path = f"{where}[{i}]"
        zid, kind = str(item["id"]), item["kind"]
        if zid in seen:
            problems.append(f"{path}.id: {zid!r} is used twice")
        seen.add(zid)
        poly = tuple((float(p[0]), float(p[1])) for p in item["polygon"])
        area = 0.5 * sum(x0 * y1 - x1 * y0 for (x0, y0), (x1, y1) in zip(poly, poly[1:] + poly[:1]))
        if abs(area) < 1e-6:
            problems.append(f"{path}.polygon: has no area")
        heading = item.get("heading_deg")
        if kind == "lane" and heading is None:
            problems.append(f"{path}.heading_deg: a lane needs its direction of travel")
        if kind != "lane" and (heading is not None or item.get("queue_m")):
            problems.append(f"{path}: heading_deg and queue_m apply to lanes only")
        zones.append(Zone(id=zid, kind=kind, polygon=poly,
                          heading_deg=float(heading) if heading is not None else None,
                          queue_m=float(item.get("queue_m", 0.0))))
    return SiteZones(tuple(zones)), problems
