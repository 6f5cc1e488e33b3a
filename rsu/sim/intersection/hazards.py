"""Scripted hazards for ``rsu simulate intersection --hazards``, and their ground truth.

- ``stopped-vehicle``: a car drives in from the West and stops on the eastbound lane of the East arm
  (x = 28 m) for 12 s, then drives on;
- ``jaywalker``: a pedestrian walks down the West sidewalk of the North arm and crosses the road at
  y = 25 m, far from the crosswalk (11 m);
- ``wrong-way``: a car drives south on the northbound lane of the North arm, then turns west through the box.

Scripted agents ignore the signal and other traffic (and other traffic ignores them). The ground truth of
each hazard is the interval in which its condition held in the simulated world (stopped / on the carriageway
outside a crosswalk / on a lane against its direction), written to ``hazards.jsonl``.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rsu.sim.intersection.world import LANE, SIZES, STOP, Agent, Path as Polyline

__all__ = ["CAUSE", "HAZARDS", "HazardScript", "HazardTruth", "lane_heading", "on_road_outside_crosswalk", "schedule",
           "hazard_zones", "spawn_due", "write_truth"]

HAZARDS = ("stopped-vehicle", "jaywalker", "wrong-way")
CAUSE = {"stopped-vehicle": "stationaryVehicle", "jaywalker": "humanPresenceOnTheRoad",
         "wrong-way": "wrongWayDriving"}
"""Scripted hazard -> the DENM cause it should raise."""
SPAWN_S = {"stopped-vehicle": 1.0, "wrong-way": 2.0, "jaywalker": 10.0}
"""Recording time at which each scripted hazard's agent appears (they run concurrently, ~30 s in all)."""
ROAD_HALF = 2 * LANE
CROSSWALK = (9.0, 13.0)  # distance of the crosswalk band from the centre along an arm


@dataclass(slots=True)
class HazardScript:
    """Speed control of a scripted agent: constant speed, or drive to ``stop_s`` and stand ``stop_for_s``."""

    name: str
    v: float
    stop_s: float | None = None
    stop_for_s: float = 0.0
    stopped_at: float | None = None
    resumed: bool = False

    def target_speed(self, agent: Agent, t: float) -> float:
        if self.stop_s is None or self.resumed:
            return self.v
        if self.stopped_at is None:
            gap = self.stop_s - agent.s
            if gap <= 0.05 and agent.v < 0.05:
                self.stopped_at = t
                return 0.0
            return min(self.v, math.sqrt(max(0.0, 2 * 2.0 * gap)))
        if t - self.stopped_at >= self.stop_for_s:
            self.resumed = True
            return self.v
        return 0.0


def _agent(name: str, agent_id: int) -> Agent:
    if name == "stopped-vehicle":
        path = Polyline([(-45.0, -LANE), (75.0, -LANE)])
        script = HazardScript(name, 10.0, stop_s=28.0 + 45.0, stop_for_s=12.0)
        kind = "car"
    elif name == "wrong-way":
        path = Polyline([(LANE, 62.0), (LANE, STOP), (-STOP, LANE), (-75.0, LANE)])
        script = HazardScript(name, 8.0)
        kind = "car"
    elif name == "jaywalker":
        path = Polyline([(-7.5, 35.0), (-7.5, 25.0), (7.5, 25.0), (7.5, 35.0)])
        script = HazardScript(name, 1.3)
        kind = "pedestrian"
    else:
        raise ValueError(f"hazard {name!r}: expected one of {', '.join(HAZARDS)}")
    return Agent(agent_id, kind, path, script.v, approach=-2, v=script.v, size=SIZES[kind], script=script)


def lane_heading(x: float, y: float) -> float | None:
    """Direction of travel of the lane at ``(x, y)`` (right-hand traffic), None off the lanes and in the box."""
    if abs(y) <= ROAD_HALF and abs(x) > STOP:
        return 90.0 if y < 0 else 270.0
    if abs(x) <= ROAD_HALF and abs(y) > STOP:
        return 0.0 if x > 0 else 180.0
    return None


def on_road_outside_crosswalk(x: float, y: float) -> bool:
    """On the carriageway (an arm or the box) and not in a crosswalk band."""
    if abs(x) > ROAD_HALF and abs(y) > ROAD_HALF:
        return False
    along = abs(x) if abs(y) <= ROAD_HALF and abs(x) > ROAD_HALF else abs(y) if abs(x) <= ROAD_HALF else 0.0
    return not CROSSWALK[0] <= along <= CROSSWALK[1]


@dataclass(slots=True)
class HazardTruth:
    """One scripted hazard and the interval (recording seconds) in which its condition held."""

    name: str
    spawn_s: float
    agent: Agent | None = None
    start_s: float | None = None
    end_s: float | None = None
    start_enu: tuple[float, float] | None = None
    end_enu: tuple[float, float] | None = None

    def condition(self) -> bool:
        a = self.agent
        if a is None or a.done:
            return False
        x, y, _, _, heading = a.state()
        if self.name == "stopped-vehicle":
            script = a.script
            return script is not None and script.stopped_at is not None and not script.resumed
        if self.name == "jaywalker":
            return on_road_outside_crosswalk(x, y)
        lane = lane_heading(x, y)
        return lane is not None and a.v > 1.0 and abs((heading - lane + 180.0) % 360.0 - 180.0) > 135.0

    def observe(self, t_s: float) -> None:
        """Record the condition at recording time ``t_s`` (one interval per hazard: first to last time held)."""
        if self.agent is None or not self.condition():
            return
        x, y, *_ = self.agent.state()
        if self.start_s is None:
            self.start_s, self.start_enu = t_s, (round(x, 2), round(y, 2))
        self.end_s, self.end_enu = t_s, (round(x, 2), round(y, 2))

    def record(self, t0_ns: int, seconds: float) -> dict[str, Any]:
        complete = self.start_s is not None and self.end_s is not None and self.end_s < seconds - 0.5
        return {"hazard": self.name, "cause": CAUSE[self.name], "agent_id": self.agent.id if self.agent else None,
                "start_ns": None if self.start_s is None else t0_ns + round(self.start_s * 1e9),
                "end_ns": None if self.end_s is None else t0_ns + round(self.end_s * 1e9),
                "complete": complete, "start_enu": self.start_enu, "end_enu": self.end_enu}


def schedule(names: tuple[str, ...]) -> list[HazardTruth]:
    """One :class:`HazardTruth` per named hazard (unknown names raise ValueError naming the known ones)."""
    out = []
    for name in dict.fromkeys(names):
        if name not in HAZARDS:
            raise ValueError(f"hazard {name!r}: expected one of {', '.join(HAZARDS)}")
        out.append(HazardTruth(name, SPAWN_S[name]))
    return out


def spawn_due(truths: list[HazardTruth], t_s: float, next_id: int) -> list[Agent]:
    """Agents of the hazards whose spawn time has come (ids from ``next_id`` on)."""
    out = []
    for h in truths:
        if h.agent is None and t_s >= h.spawn_s:
            h.agent = _agent(h.name, next_id + len(out))
            out.append(h.agent)
    return out


def write_truth(out: Path, truths: list[HazardTruth], t0_ns: int, seconds: float) -> list[dict[str, Any]]:
    """Write ``hazards.jsonl`` (one line per scripted hazard) and return its records."""
    records = [h.record(t0_ns, seconds) for h in truths]
    with open(out / "hazards.jsonl", "w") as fh:
        for r in records:
            fh.write(json.dumps(r, separators=(",", ":")) + "\n")
    return records


def hazard_zones(queue_m: float = 45.0, margin_m: float = 0.5) -> list[dict[str, Any]]:
    """The zones of the simulated intersection as ``plugins.hazard_warning.zones`` takes them (ENU metres):
    two lanes per arm (right-hand traffic; approach lanes with a ``queue_m`` queue area before the stop
    line), the box as carriageway, and the four crosswalk bands (``margin_m`` wider than the road)."""
    zones: list[dict[str, Any]] = []
    arm = 70.0
    names = {0: "west", 1: "south", 2: "east", 3: "north"}
    for quarter in range(4):
        # in the frame of approach 0 (from the West, heading East): approach lane y in [-2L, 0], exit [0, 2L]
        for kind, y0, y1, heading in (("in", -ROAD_HALF, 0.0, 90.0), ("out", 0.0, ROAD_HALF, 270.0)):
            pts = _rotate_pts([(-arm, y0), (-STOP, y0), (-STOP, y1), (-arm, y1)], quarter)
            zone: dict[str, Any] = {"id": f"{names[quarter]}-{kind}", "kind": "lane", "polygon": pts,
                                    "heading_deg": (heading - 90.0 * quarter) % 360.0}
            if kind == "in":
                zone["queue_m"] = queue_m
            zones.append(zone)
    zones.append({"id": "box", "kind": "carriageway",
                  "polygon": [[-STOP, -STOP], [STOP, -STOP], [STOP, STOP], [-STOP, STOP]]})
    a, b, w = CROSSWALK[0], CROSSWALK[1], ROAD_HALF + margin_m
    for quarter in range(4):
        zones.append({"id": f"crosswalk-{names[quarter]}", "kind": "crossing",
                      "polygon": _rotate_pts([(-b, -w), (-a, -w), (-a, w), (-b, w)], quarter)})
    return zones


def _rotate_pts(pts: list[tuple[float, float]], quarter: int) -> list[list[float]]:
    c, s = [(1, 0), (0, 1), (-1, 0), (0, -1)][quarter % 4]
    return [[float(c * x - s * y) + 0.0, float(s * x + c * y) + 0.0] for x, y in pts]
