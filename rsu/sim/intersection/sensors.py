"""What the sensors make of the simulated world: a camera detector (projection through the real camera,
noise, occlusion, misses, false positives, class confusion) and an ARS408 (noise, lost objects,
persistent ghost reflectors, random clutter)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from rsu_sdk import Detections, RadarObject

from rsu.fusion.geometry import PinholeCamera, RadarMount

__all__ = ["TruthObject", "CameraSim", "RadarSim", "DETECTOR_CLASSES"]

DETECTOR_CLASSES = ("person", "bicycle", "car", "motorcycle", "bus", "truck")
_LABEL = {"pedestrian": 0, "bicycle": 1, "car": 2, "truck": 5}
_CONFUSE = {0: (1, 0.02), 1: (0, 0.08), 2: (5, 0.03), 5: (2, 0.05)}
_P_DETECT = {"car": 0.95, "truck": 0.95, "bicycle": 0.88, "pedestrian": 0.85}


@dataclass(frozen=True, slots=True)
class TruthObject:
    id: int
    kind: str
    x: float
    y: float
    ve: float
    vn: float
    heading: float
    size: tuple[float, float, float]


def _corners(o: TruthObject) -> np.ndarray:
    yaw = math.radians(o.heading)
    f = np.array([math.sin(yaw), math.cos(yaw)])
    s = np.array([math.cos(yaw), -math.sin(yaw)])
    l, w, h = o.size
    base = [np.array([o.x, o.y]) + a * l / 2 * f + b * w / 2 * s for a in (1, -1) for b in (1, -1)]
    return np.array([[*p, z] for z in (0.0, h) for p in base])


@dataclass
class CameraSim:
    camera: PinholeCamera
    image_size: tuple[int, int]
    source: str
    rng: np.random.Generator
    fp_rate: float = 0.35
    fp_area: tuple[float, float, float, float] = (-10.0, 40.0, -10.0, 40.0)
    glare: tuple[float, float, float] = (30.0, 9.0, 0.0)  # period, duration, phase (s): low sun, wet lens
    glare_factor: float = 0.35  # detection probability multiplier during glare
    frame_drop: float = 0.02

    def boxes(self, objs: list[TruthObject]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Unclipped image boxes, depth, and the visible (in-image) fraction of each object."""
        n = len(objs)
        if not n:
            return np.zeros((0, 4)), np.zeros(0), np.zeros(0)
        uv, z = self.camera.project(np.concatenate([_corners(o) for o in objs]))
        uv, z = uv.reshape(n, 8, 2), z.reshape(n, 8)
        boxes = np.c_[uv[:, :, 0].min(1), uv[:, :, 1].min(1), uv[:, :, 0].max(1), uv[:, :, 1].max(1)]
        w, h = self.image_size
        cl = np.c_[np.clip(boxes[:, 0], 0, w), np.clip(boxes[:, 1], 0, h), np.clip(boxes[:, 2], 0, w),
                   np.clip(boxes[:, 3], 0, h)]
        area = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
        vis = (cl[:, 2] - cl[:, 0]) * (cl[:, 3] - cl[:, 1]) / np.maximum(area, 1e-9)
        vis[(z < 0.5).any(axis=1)] = 0.0
        return boxes, z.min(axis=1), vis

    def glaring(self, t_s: float) -> bool:
        period, duration, phase = self.glare
        return period > 0 and (t_s - phase) % period < duration

    def detect(self, objs: list[TruthObject], t_ns: int, frame_id: int, t_s: float = 0.0) -> Detections | None:
        """What the detector reports for one frame; ``None`` when the frame is lost."""
        rng = self.rng
        if rng.random() < self.frame_drop:
            return None
        glare = self.glaring(t_s)
        boxes, depth, vis = self.boxes(objs)
        out_b, out_c, out_k = [], [], []
        order = np.argsort(depth)
        for rank, i in enumerate(order):
            if vis[i] < 0.6:
                continue
            b = boxes[i]
            area = (b[2] - b[0]) * (b[3] - b[1])
            occ = 0.0
            for j in order[:rank]:
                if vis[j] <= 0:
                    continue
                c = boxes[j]
                iw = max(0.0, min(b[2], c[2]) - max(b[0], c[0]))
                ih = max(0.0, min(b[3], c[3]) - max(b[1], c[1]))
                occ += iw * ih / max(area, 1e-9)
            occ = min(occ, 1.0)
            height = b[3] - b[1]
            p = _P_DETECT[objs[i].kind] * (0.3 if height < 18 else 0.75 if height < 30 else 1.0)
            p *= 0.0 if occ > 0.65 else (1.0 - occ) ** 1.5
            if glare:
                p *= self.glare_factor
            if rng.random() >= p:
                continue
            sigma = 1.5 + 0.03 * height
            nb = b + rng.normal(0.0, sigma, 4)
            label = _LABEL[objs[i].kind]
            alt, p_conf = _CONFUSE[label]
            if rng.random() < p_conf:
                label = alt
            out_b.append(nb)
            out_c.append(float(np.clip(rng.uniform(0.55, 0.95) * (1.0 - 0.4 * occ), 0.3, 0.99)))
            out_k.append(label)
        for _ in range(rng.poisson(self.fp_rate * (3.0 if glare else 1.0))):
            x0, x1, y0, y1 = self.fp_area
            kind = "car" if rng.random() < 0.5 else "pedestrian"
            fake = TruthObject(0, kind, float(rng.uniform(x0, x1)), float(rng.uniform(y0, y1)), 0, 0,
                               float(rng.uniform(0, 360)), (4.5, 1.8, 1.5) if kind == "car" else (0.5, 0.5, 1.7))
            fb, _, fv = self.boxes([fake])
            if fv[0] >= 0.6:
                out_b.append(fb[0] + rng.normal(0, 3.0, 4))
                out_c.append(float(rng.uniform(0.3, 0.6)))
                out_k.append(_LABEL[kind])
        w, h = self.image_size
        xyxy = np.array(out_b, dtype=np.float64).reshape(-1, 4)
        xyxy = np.c_[np.clip(xyxy[:, 0], 0, w - 1), np.clip(xyxy[:, 1], 0, h - 1), np.clip(xyxy[:, 2], 1, w),
                     np.clip(xyxy[:, 3], 1, h)]
        return Detections(source=self.source, t_event_ns=t_ns, frame_id=frame_id, xyxy=xyxy,
                          confidence=np.array(out_c, dtype=np.float32), class_id=np.array(out_k, dtype=np.int32),
                          class_names=DETECTOR_CLASSES, image_size=self.image_size)


_RADAR_P = {"car": 0.97, "truck": 0.98, "bicycle": 0.8, "pedestrian": 0.5}
_RADAR_CLASS = {"car": (("car", "point"), (0.85, 0.15)), "truck": (("truck", "car", "wide"), (0.7, 0.2, 0.1)),
                "bicycle": (("bicycle", "point", "pedestrian"), (0.5, 0.3, 0.2)),
                "pedestrian": (("pedestrian", "point"), (0.6, 0.4))}
_RCS = {"car": 10.0, "truck": 20.0, "bicycle": 0.0, "pedestrian": -5.0}


@dataclass
class RadarSim:
    mount: RadarMount
    rng: np.random.Generator
    ghosts: list[tuple[float, float]] = field(default_factory=list)  # persistent static reflectors (ENU)
    clutter_rate: float = 0.6
    max_range: float = 120.0
    fov_deg: float = 60.0
    _on: dict[int, bool] = field(default_factory=dict)
    _ids: dict[int, int] = field(default_factory=dict)
    _cls: dict[int, str] = field(default_factory=dict)
    _free: list[int] = field(default_factory=lambda: list(range(100)))

    def _radar_id(self, key: int) -> int:
        if key not in self._ids:
            self._ids[key] = self._free.pop(0) if self._free else 255
        return self._ids[key]

    def _release(self, key: int) -> None:
        rid = self._ids.pop(key, None)
        if rid is not None and rid != 255:
            self._free.append(rid)

    def _visible(self, key: int, p: float) -> bool:
        """Two-state Markov chain per object: long-run detection rate ``p``, lost for runs of cycles."""
        on = self._on.get(key, self.rng.random() < p)
        a = 0.12
        b = a * (1 - p) / p
        on = (self.rng.random() >= b) if on else (self.rng.random() < a)
        self._on[key] = on
        return on

    def measure(self, objs: list[TruthObject]) -> list[RadarObject]:
        rng = self.rng
        out: list[RadarObject] = []
        if objs:
            pos = self.mount.from_enu([(o.x, o.y) for o in objs])
            vel = self.mount.vel_from_enu([(o.ve, o.vn) for o in objs])
        seen: set[int] = set()
        rng_az = []
        for i, o in enumerate(objs):
            r = math.hypot(*pos[i])
            rng_az.append((r, math.degrees(math.atan2(pos[i][1], pos[i][0])), math.degrees(math.atan2(o.size[1] / 2, max(r, 1.0)))))
        for i, o in enumerate(objs):
            r, az, _ = rng_az[i]
            if not (1.0 < r < self.max_range and abs(az) < self.fov_deg):
                continue
            p = _RADAR_P[o.kind]
            for j, (r2, az2, half2) in enumerate(rng_az):
                if j != i and r2 < r - 1.0 and abs(az2 - az) < half2 and objs[j].size[2] >= o.size[2] * 0.8:
                    p *= 0.5
                    break
            seen.add(o.id)
            if not self._visible(o.id, p):
                continue
            if o.id not in self._cls:
                names, probs = _RADAR_CLASS[o.kind]
                self._cls[o.id] = str(rng.choice(names, p=probs))
            speed = math.hypot(o.ve, o.vn)
            out.append(RadarObject(
                object_id=self._radar_id(o.id),
                dist_long=float(pos[i][0] + rng.normal(0, 0.12 + 0.002 * r)),
                dist_lat=float(pos[i][1] + rng.normal(0, 0.15 + 0.004 * r)),
                vrel_long=float(vel[i][0] + rng.normal(0, 0.1)), vrel_lat=float(vel[i][1] + rng.normal(0, 0.2)),
                rcs=float(_RCS[o.kind] + rng.normal(0, 2.0)), dyn_prop=0 if speed > 0.5 else 1,
                class_name=self._cls[o.id], prob_exist=0.99, length=float(o.size[0]), width=float(o.size[1]),
                orientation_deg=float(((o.heading - self.mount.yaw_deg) + 180) % 360 - 180),
            ))
        for key in [k for k in self._ids if k > 0 and k not in seen]:
            self._release(key)
            self._on.pop(key, None)
        for g, (gx, gy) in enumerate(self.ghosts):
            key = -(g + 1)
            if self._visible(key, 0.85):
                x, y = self.mount.from_enu([(gx, gy)])[0]
                out.append(RadarObject(object_id=self._radar_id(key), dist_long=float(x + rng.normal(0, 0.15)),
                                       dist_lat=float(y + rng.normal(0, 0.2)), vrel_long=float(rng.normal(0, 0.1)),
                                       vrel_lat=float(rng.normal(0, 0.1)), rcs=15.0, dyn_prop=1, class_name="point",
                                       prob_exist=0.75))
        for k in range(min(rng.poisson(self.clutter_rate), 20)):
            r, az = rng.uniform(5, 60), math.radians(rng.uniform(-self.fov_deg, self.fov_deg))
            out.append(RadarObject(object_id=100 + k, dist_long=r * math.cos(az),
                                   dist_lat=r * math.sin(az), vrel_long=float(rng.normal(0, 1.0)),
                                   vrel_lat=float(rng.normal(0, 1.0)), rcs=float(rng.uniform(-10, 5)), dyn_prop=4,
                                   class_name="point", prob_exist=0.5))
        return out[:100]
