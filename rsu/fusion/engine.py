"""``FusionEngine``: camera detections + radar cycles -> tracked objects, driven by event time only.

A plain, deterministic class with no I/O and no clock: feed it products with :meth:`on_detections` and
:meth:`on_radar`, get back the :class:`ObjectList` of every fusion cycle the event-time alignment
released. ``snapshot()`` / ``restore()`` carry its whole state as JSON-able data.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from functools import partial
from operator import attrgetter
from typing import Any, Literal

import numpy as np

from rsu_sdk import Detections, FusedObject, ObjectList, RadarScan

from rsu.fusion.align import Aligner, Cycle
from rsu.fusion.associate import camera_radar_pairs, solve_pairs
from rsu.fusion.calibration import CameraModel, camera_model, radar_mount
from rsu.fusion.classes import CLASSES, GATE_SCALE, RADAR_CLASS_MAP, SIZES, UNKNOWN, class_index
from rsu.fusion.geometry import LocalGeodetic, RadarMount
from rsu.fusion.measurements import CENTER_OFFSET_M, Measurements, merge_pairs
from rsu.fusion.tracker import STATE_NAMES, Tracker, TrackerParams

__all__ = ["FusionEngine", "EngineSettings"]

Mode = Literal["fused", "camera_only", "radar_only"]
_RADAR_FIELDS = attrgetter("dist_long", "dist_lat", "vrel_long", "vrel_lat", "prob_exist", "length", "width")
_RADAR_CLASS = {name: class_index(fusion) for name, fusion in RADAR_CLASS_MAP.items()}


@dataclass(frozen=True, slots=True)
class EngineSettings:
    """The tuning of :class:`FusionEngine` (the ``fusion`` config section without calibration)."""

    mode: Mode = "fused"
    output_source: str = "fusion"
    class_map: dict[str, str] = field(default_factory=dict)
    max_out_of_order_ms: float = 150.0
    pair_window_ms: float = 50.0
    idle_source_s: float = 1.0
    min_confidence: float = 0.3
    gate_m: float = 3.0
    gate_per_m: float = 0.03
    camera_pos_std_m: float = 0.4
    camera_pos_std_per_m: float = 0.015
    radar_pos_std_m: float = 0.35
    radar_vel_std_mps: float = 0.4
    tracker: TrackerParams = TrackerParams()

    @classmethod
    def from_config(cls, fc: Any, mode: Mode | None = None) -> EngineSettings:
        mode = mode or fc.mode
        return cls(
            mode=mode, output_source=fc.output_source, class_map=dict(fc.class_map),
            max_out_of_order_ms=fc.max_out_of_order_ms, pair_window_ms=fc.pair_window_ms,
            idle_source_s=fc.idle_source_s, min_confidence=fc.min_confidence, gate_m=fc.gate_m,
            gate_per_m=fc.gate_per_m, camera_pos_std_m=fc.camera_pos_std_m,
            camera_pos_std_per_m=fc.camera_pos_std_per_m, radar_pos_std_m=fc.radar_pos_std_m,
            radar_vel_std_mps=fc.radar_vel_std_mps,
            tracker=TrackerParams(
                confirm_hits=fc.confirm_hits, tentative_timeout_s=fc.tentative_timeout_s,
                lost_after_s=fc.lost_after_s, delete_after_s=fc.delete_after_s,
                camera_veto_frames=fc.camera_veto_frames if mode == "fused" else 0, accel_std=fc.accel_std,
                gate_m=fc.gate_m),
        )


def _radar_boxes(radar: Measurements, model: CameraModel, idx: np.ndarray) -> np.ndarray:
    """Image boxes of radar objects ``idx`` (their size, or their class's; heading along their velocity)."""
    vel, size = radar.vel[idx], radar.size[idx]
    heading = np.degrees(np.arctan2(vel[:, 0], vel[:, 1]))
    return model.project_boxes(radar.pos[idx], np.where(np.isnan(size), SIZES[radar.cls[idx]], size), heading)


class FusionEngine:
    """Fuses camera :class:`Detections` and :class:`RadarScan` values into :class:`ObjectList` values."""

    def __init__(self, settings: EngineSettings, cameras: dict[str, CameraModel], radars: dict[str, RadarMount],
                 origin: tuple[float, float, float]) -> None:
        self.settings = settings
        self.cameras, self.radars, self.origin = cameras, radars, origin
        self.tracker = Tracker(settings.tracker)
        self.aligner = Aligner(int(settings.max_out_of_order_ms * 1e6), int(settings.pair_window_ms * 1e6),
                               int(settings.idle_source_s * 1e9))
        self.source_names: list[str] = []
        self.geodetic = LocalGeodetic(*origin)
        self._class_luts: dict[tuple[str, ...], np.ndarray] = {}  # detector class names -> fusion class
        self._sources: dict[int, tuple[str, ...]] = {}  # source mask -> source names
        self.counts = dict.fromkeys(("detections", "radar_scans", "ignored", "uncalibrated", "low_confidence",
                                     "cycles", "camera_measurements", "radar_measurements", "pairs"), 0)

    @classmethod
    def from_config(cls, cfg: Any, mode: Mode | None = None) -> FusionEngine:
        """Build from a whole :class:`RsuConfig` (radar poses from ``fusion.radars`` and the sources' ``pose``)."""
        fc = cfg.fusion
        radars = {rid: radar_mount(p) for rid, p in fc.radars.items()}
        for src in cfg.sources:
            if getattr(src, "pose", None) is not None:
                radars[src.id] = radar_mount(src.pose)
        cams = {cid: camera_model(cal) for cid, cal in fc.cameras.items()}
        return cls(EngineSettings.from_config(fc, mode), cams, radars, (cfg.site.lat, cfg.site.lon, cfg.site.alt))

    # ------------------------------------------------------------------ input
    def on_detections(self, det: Detections) -> list[ObjectList]:
        self.counts["detections"] += 1
        if self.settings.mode == "radar_only":
            self.counts["ignored"] += 1
            return []
        if det.source not in self.cameras:
            self.counts["uncalibrated"] += 1
            return []
        return self._run(self.aligner.push(det))

    def on_radar(self, scan: RadarScan) -> list[ObjectList]:
        self.counts["radar_scans"] += 1
        if self.settings.mode == "camera_only":
            self.counts["ignored"] += 1
            return []
        if scan.source not in self.radars:
            self.counts["uncalibrated"] += 1
            return []
        return self._run(self.aligner.push(scan))

    def flush(self) -> list[ObjectList]:
        """Process everything still buffered (end of input)."""
        return self._run(self.aligner.flush())

    # ------------------------------------------------------------------ one cycle
    def _bit(self, source: str) -> int:
        if source not in self.source_names:
            self.source_names.append(source)
        return 1 << self.source_names.index(source)

    def camera_measurements(self, det: Detections) -> Measurements:
        s, cam = self.settings, self.cameras[det.source]
        keep = det.confidence >= s.min_confidence
        self.counts["low_confidence"] += int((~keep).sum())
        boxes = det.xyxy[keep].astype(np.float64)
        m = len(boxes)
        lut = self._class_luts.get(det.class_names)
        if lut is None:
            lut = np.array([class_index(n, s.class_map) for n in det.class_names], dtype=np.int64)
            self._class_luts[det.class_names] = lut
        cls = lut[det.class_id[keep]]
        bottom = np.c_[(boxes[:, 0] + boxes[:, 2]) / 2, boxes[:, 3]] if m else np.zeros((0, 2))
        pos = cam.image_to_ground(bottom)
        rng = np.zeros(m)
        if cam.foot is not None and m:
            ray = pos - cam.foot
            rng = np.hypot(ray[:, 0], ray[:, 1])
            pos = pos + ray / np.maximum(rng, 1e-6)[:, None] * CENTER_OFFSET_M[cls][:, None]
        ok = np.isfinite(pos).all(axis=1)
        std = s.camera_pos_std_m + s.camera_pos_std_per_m * rng
        meas = Measurements(pos, std**2, np.full((m, 2), np.nan), np.full(m, np.nan), cls,
                            det.confidence[keep].astype(np.float64), np.ones(m, bool), np.zeros(m, bool),
                            np.full((m, 3), np.nan), np.full(m, self._bit(det.source), np.int64), boxes)
        return meas.take(np.flatnonzero(ok)) if not ok.all() else meas

    def radar_measurements(self, scan: RadarScan, t_ns: int) -> Measurements:
        s, mount = self.settings, self.radars[scan.source]
        objs = scan.objects
        m = len(objs)
        if not m:
            return Measurements.empty()
        arr = np.array(list(map(_RADAR_FIELDS, objs)), dtype=np.float64)  # None (not reported) -> NaN
        cls = np.array([_RADAR_CLASS.get(o.class_name, UNKNOWN) for o in objs], dtype=np.int64)
        vel = mount.vel_to_enu(arr[:, 2:4])
        dt = (t_ns - scan.t_event_ns) / 1e9
        pos = mount.to_enu(arr[:, 0:2]) + dt * vel
        size = np.where((arr[:, 5:6] > 0) & (arr[:, 6:7] > 0), np.c_[arr[:, 5:7], SIZES[cls, 2]], np.nan)
        prob = arr[:, 4]
        return Measurements(pos, np.full(m, s.radar_pos_std_m**2), vel, np.full(m, s.radar_vel_std_mps**2), cls,
                            np.where(np.isnan(prob), 0.5, prob), np.zeros(m, bool), np.ones(m, bool), size,
                            np.full(m, self._bit(scan.source), np.int64))

    def fuse(self, cam: Measurements, radar: Measurements, model: CameraModel | None) -> Measurements:
        """Pair camera detections with radar objects (gated cost, minimum-cost matching) and merge the pairs."""
        if not len(cam) or not len(radar):
            return Measurements.concat([cam, radar])
        s = self.settings
        rng = np.zeros(len(cam)) if model is None or model.foot is None else np.hypot(
            *(cam.pos - model.foot).T)
        gate = s.gate_m * GATE_SCALE[cam.cls] + s.gate_per_m * rng
        radar_boxes = None if model is None or cam.boxes is None else partial(_radar_boxes, radar, model)
        ci, ri = solve_pairs(*camera_radar_pairs(cam.pos, cam.cls, cam.boxes, radar.pos, radar.cls, radar_boxes,
                                                 gate))
        self.counts["pairs"] += len(ci)
        return merge_pairs(cam, radar, ci, ri)

    def _cycle(self, cyc: Cycle) -> ObjectList:
        cam = radar = Measurements.empty()
        model = None
        if cyc.camera is not None:
            model = self.cameras[cyc.camera.source]
            cam = self.camera_measurements(cyc.camera)
            self.counts["camera_measurements"] += len(cam)
        if cyc.radar is not None:
            radar = self.radar_measurements(cyc.radar, cyc.t_ns)
            self.counts["radar_measurements"] += len(radar)
        meas = self.fuse(cam, radar, model)
        self.tracker.step(cyc.t_ns, meas, model.in_view if model is not None else None)
        self.counts["cycles"] += 1
        return self.object_list(cyc.t_ns)

    def _run(self, cycles: list[Cycle]) -> list[ObjectList]:
        return [self._cycle(c) for c in cycles]

    # ------------------------------------------------------------------ output
    def object_list(self, t_ns: int) -> ObjectList:
        """The published tracks as an :class:`ObjectList` stamped ``t_ns``."""
        tr = self.tracker
        idx = tr.published()
        if not len(idx):
            return ObjectList(source=self.settings.output_source, t_event_ns=t_ns)
        t = tr.tracks.take(idx)
        x, cov = t.x, t.p
        lat, lon = self.geodetic.latlon(x[:, 0], x[:, 1])
        std = np.sqrt(0.5 * (cov[:, 0, 0] + cov[:, 1, 1]))
        columns = zip(t.ids.tolist(), x.tolist(), t.heading.tolist(), tr.classes()[idx].tolist(),
                      np.clip(t.conf, 0.0, 1.0).tolist(), lat.tolist(), lon.tolist(), t.src_mask.tolist(),
                      t.size.tolist(), ((t_ns - t.t_created) / 1e9).tolist(), t.state.tolist(), std.tolist())
        objects = tuple(FusedObject(
            track_id=tid, position_enu=(xk[0], xk[1], 0.0), velocity_enu=(xk[2], xk[3]), heading_deg=heading,
            class_name=CLASSES[cls], confidence=conf, lat=la, lon=lo, sources=self._source_names(mask),
            size=tuple(size), age_s=age, state=STATE_NAMES[state], position_std_m=sd if math.isfinite(sd) else None,
        ) for tid, xk, heading, cls, conf, la, lo, mask, size, age, state, sd in columns)
        return ObjectList(source=self.settings.output_source, t_event_ns=t_ns, objects=objects)

    def _source_names(self, mask: int) -> tuple[str, ...]:
        names = self._sources.get(mask)
        if names is None:
            names = tuple(n for b, n in enumerate(self.source_names) if mask >> b & 1)
            self._sources[mask] = names
        return names

    def stats(self) -> dict[str, Any]:
        return {**self.counts, **{f"align_{k}": v for k, v in self.aligner.counts.items()},
                "tracks": len(self.tracker), "mode": self.settings.mode}

    def snapshot(self) -> dict[str, Any]:
        return {"version": 1, "tracker": self.tracker.snapshot(), "aligner": self.aligner.snapshot(),
                "source_names": list(self.source_names), "counts": dict(self.counts)}

    def restore(self, snap: dict[str, Any]) -> None:
        if snap.get("version") != 1:
            raise ValueError(f"unsupported fusion snapshot version {snap.get('version')!r}")
        self.tracker.restore(snap["tracker"])
        self.aligner.restore(snap["aligner"])
        self.source_names = list(snap["source_names"])
        self._sources.clear()
        self.counts = dict(snap["counts"])
