"""The simulated intersection: two crossing roads, a fixed-time signal, vehicles, cyclists and pedestrians.

Right-hand traffic, one lane per direction (3.5 m), stop lines 8 m from the centre, crosswalks 11 m
from the centre, sidewalks 7.5 m off the road axes. Agents follow polyline paths with a speed controller
(free speed, car following, stopping at red, slower in turns); pedestrians wait at the curb for their
phase. Everything is driven by one ``numpy.random.Generator``, so a seed gives the same world.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

__all__ = ["Agent", "Path", "World", "WorldSettings", "SIZES"]

LANE = 1.75
STOP = 8.0
ARM = 70.0
SIZES = {"car": (4.5, 1.8, 1.5), "truck": (9.5, 2.5, 3.3), "bicycle": (1.8, 0.6, 1.7), "pedestrian": (0.5, 0.5, 1.7)}


class Path:
    """A polyline with arc length; ``pose(s)`` gives position and heading (clockwise from North)."""

    def __init__(self, pts: list[tuple[float, float]]) -> None:
        self.pts = np.asarray(pts, dtype=np.float64)
        seg = np.diff(self.pts, axis=0)
        self.seg_len = np.hypot(seg[:, 0], seg[:, 1])
        self.cum = np.r_[0.0, np.cumsum(self.seg_len)]
        self.length = float(self.cum[-1])
        self.seg_dir = seg / np.maximum(self.seg_len, 1e-9)[:, None]

    def project(self, x: float, y: float) -> tuple[float, float]:
        """Arc length of the point of the path nearest to ``(x, y)``, and the distance to it."""
        rel = np.array([x, y]) - self.pts[:-1]
        u = np.clip(np.einsum("ij,ij->i", rel, self.seg_dir), 0.0, self.seg_len)
        d = np.hypot(*(rel - self.seg_dir * u[:, None]).T)
        i = int(np.argmin(d))
        return float(self.cum[i] + u[i]), float(d[i])

    def pose(self, s: float) -> tuple[float, float, float]:
        s = min(max(s, 0.0), self.length)
        i = min(int(np.searchsorted(self.cum, s, side="right")) - 1, len(self.seg_len) - 1)
        d = self.seg_dir[i]
        p = self.pts[i] + d * (s - self.cum[i])
        return float(p[0]), float(p[1]), math.degrees(math.atan2(d[0], d[1])) % 360.0


def _arc(cx: float, cy: float, r: float, a0: float, a1: float, step: float = 0.5) -> list[tuple[float, float]]:
    n = max(2, int(abs(a1 - a0) * r / step))
    return [(cx + r * math.cos(a), cy + r * math.sin(a)) for a in np.linspace(a0, a1, n)]


def _rotate(pts: list[tuple[float, float]], quarter: int) -> list[tuple[float, float]]:
    c, s = [(1, 0), (0, 1), (-1, 0), (0, -1)][quarter % 4]
    return [(c * x - s * y, s * x + c * y) for x, y in pts]


def vehicle_path(approach: int, turn: str, offset: float = 0.0) -> Path:
    """Approach 0 = from the West heading East, 1 = from the South, 2 = East, 3 = North (counter-clockwise)."""
    y = -LANE - offset
    pts: list[tuple[float, float]] = [(-ARM, y), (-STOP, y)]
    if turn == "straight":
        pts.append((ARM, y))
    elif turn == "right":
        r = STOP + y
        pts += _arc(-STOP, -STOP, r, math.pi / 2, 0.0)[1:] + [(-STOP + r, -ARM)]
    else:
        r = STOP - y
        pts += _arc(-STOP, STOP, r, -math.pi / 2, 0.0)[1:] + [(-STOP + r, ARM)]
    return Path(_rotate(pts, approach))


def pedestrian_path(arm: int, northward: bool) -> tuple[Path, float, float]:
    """Walk along a sidewalk to the crosswalk over ``arm``, cross it, walk on; returns the path and the
    arc lengths where the crossing starts and ends."""
    x, side = -11.0, 7.5
    a, b = (-30.0, -side), (-26.0, side)
    if not northward:
        a, b = (a[0], side), (b[0], -side)
    pts = [a, (x, a[1]), (x, b[1]), b]
    path = Path(_rotate(pts, arm))
    return path, float(path.cum[1]), float(path.cum[2])


@dataclass(slots=True)
class Agent:
    id: int
    kind: str
    path: Path
    v_des: float
    approach: int = -1  # vehicles: the approach arm; pedestrians: -1
    turn: str = "straight"
    cross: tuple[float, float] | None = None  # pedestrians: crossing start/end arc length
    arm: int = -1
    s: float = 0.0
    v: float = 0.0
    done: bool = False
    size: tuple[float, float, float] = field(default=(4.5, 1.8, 1.5))
    script: Any = None  # scripted hazards: an object with target_speed(agent, t) (rsu.sim.intersection.hazards)

    def state(self) -> tuple[float, float, float, float, float]:
        """x, y, ve, vn, heading."""
        x, y, h = self.path.pose(self.s)
        r = math.radians(h)
        return x, y, self.v * math.sin(r), self.v * math.cos(r), h


@dataclass(frozen=True, slots=True)
class WorldSettings:
    vehicle_rate: float = 0.09  # per approach per second
    pedestrian_rate: float = 0.12  # whole intersection per second
    cycle_s: float = 40.0  # signal: EW green, all-red, NS green, all-red
    green_s: float = 17.0
    all_red_s: float = 3.0


class World:
    def __init__(self, rng: np.random.Generator, settings: WorldSettings | None = None) -> None:
        self.rng = rng
        self.settings = settings or WorldSettings()
        self.agents: list[Agent] = []
        self.t = 0.0
        self._next_id = 1
        self.offset = float(rng.uniform(0, self.settings.cycle_s))

    # ------------------------------------------------------------------ signal
    def green(self, axis: str) -> bool:
        """Whether the ``ew`` or ``ns`` movement has green now."""
        s = self.settings
        ph = (self.t + self.offset) % s.cycle_s
        half = s.green_s + s.all_red_s
        return ph < s.green_s if axis == "ew" else half <= ph < half + s.green_s

    # ------------------------------------------------------------------ spawning
    def _spawn(self, dt: float) -> None:
        s, rng = self.settings, self.rng
        for approach in range(4):
            if rng.random() < s.vehicle_rate * dt:
                last = [a for a in self.agents if a.approach == approach and a.s < 15.0]
                if last:
                    continue
                kind = rng.choice(["car", "truck", "bicycle"], p=[0.8, 0.08, 0.12])
                turn = rng.choice(["straight", "left", "right"], p=[0.6, 0.2, 0.2])
                if kind == "bicycle" and turn == "left":
                    turn = "straight"
                v = {"car": rng.uniform(9, 13), "truck": rng.uniform(7, 10), "bicycle": rng.uniform(4, 6)}[kind]
                path = vehicle_path(approach, turn, 0.9 if kind == "bicycle" else 0.0)
                self.agents.append(Agent(self._next_id, str(kind), path, float(v), approach, str(turn),
                                         v=float(v), size=SIZES[str(kind)]))
                self._next_id += 1
        if rng.random() < s.pedestrian_rate * dt:
            arm, north = int(rng.integers(4)), bool(rng.integers(2))
            path, c0, c1 = pedestrian_path(arm, north)
            v = float(rng.uniform(1.1, 1.6))
            self.agents.append(Agent(self._next_id, "pedestrian", path, v, cross=(c0, c1), arm=arm, v=v,
                                     size=SIZES["pedestrian"]))
            self._next_id += 1

    # ------------------------------------------------------------------ motion
    def _target_speed(self, a: Agent, leaders: list[Agent], blocks: list[tuple[float, float]] | None = None) -> float:
        if a.script is not None:
            return float(a.script.target_speed(a, self.t))
        if a.kind == "pedestrian":
            c0, _ = a.cross  # type: ignore[misc]
            axis = "ns" if a.arm % 2 == 0 else "ew"  # crossing the W/E arm runs parallel to N-S traffic
            if a.s < c0 - 0.05 and not self.green(axis):
                return min(a.v_des, max(0.0, (c0 - 0.3 - a.s) * 1.5))
            return a.v_des
        target = a.v_des
        stop_s = ARM - STOP
        if a.turn != "straight" and stop_s - 15 < a.s < stop_s + 14:
            target = min(target, 6.0 if a.turn == "left" else 4.5)
        axis = "ew" if a.approach % 2 == 0 else "ns"
        gap_stop = stop_s - 1.0 - a.s - a.size[0] / 2
        if not self.green(axis) and gap_stop > -0.5 and a.v**2 / (2 * 4.0) <= gap_stop + 1.0:
            target = min(target, math.sqrt(max(0.0, 2 * 2.5 * gap_stop)))
        ahead = [(b.s, b.size[0]) for b in leaders] + list(blocks or ())
        for s_b, length_b in ahead:
            gap = s_b - a.s - (a.size[0] + length_b) / 2 - 2.0
            target = min(target, max(0.0, min(math.sqrt(max(0.0, 2 * 3.0 * gap)), gap / 1.0)))
        return target

    def _blocks(self, a: Agent, blockers: list[Agent]) -> list[tuple[float, float]]:
        """Scripted vehicles standing on ``a``'s path ahead of it, as (arc length on a's path, length)."""
        out = []
        for b in blockers:
            x, y, *_ = b.state()
            s_b, d = a.path.project(x, y)
            if d < 1.5 and a.s < s_b < a.s + 60.0:
                out.append((s_b, b.size[0]))
        return out

    def step(self, dt: float) -> None:
        self._spawn(dt)
        by_approach: dict[int, list[Agent]] = {}
        for a in self.agents:
            if a.approach >= 0:
                by_approach.setdefault(a.approach, []).append(a)
        # scripted vehicles that stop (hazards) hold up the traffic behind them; others ignore scripted agents
        blockers = [a for a in self.agents if a.script is not None and a.kind != "pedestrian"
                    and getattr(a.script, "stop_s", None) is not None]
        for a in self.agents:
            leaders = []
            blocks = None
            if a.approach >= 0:
                leaders = [b for b in by_approach[a.approach]
                           if b is not a and b.s > a.s and (b.turn == a.turn or a.s < ARM - STOP)]
                blocks = self._blocks(a, blockers) if blockers else None
            target = self._target_speed(a, leaders, blocks)
            accel = 1.5 if a.kind == "pedestrian" else 2.0
            a.v += float(np.clip(target - a.v, -6.0 * dt, accel * dt))
            a.v = max(0.0, a.v)
            a.s += a.v * dt
            if a.s >= a.path.length:
                a.done = True
        self.agents = [a for a in self.agents if not a.done]
        self.t += dt
