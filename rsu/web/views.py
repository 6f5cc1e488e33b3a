"""Site geometry for drawing: camera models and radar mounts from the config, radar objects to ENU."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from rsu_sdk import RadarScan

from rsu.fusion.calibration import CameraModel, camera_model, radar_mount
from rsu.fusion.geometry import RadarMount

__all__ = ["SiteGeometry", "DEFAULT_SIZES"]

log = logging.getLogger(__name__)

DEFAULT_SIZES: dict[str, tuple[float, float, float]] = {
    "car": (4.5, 1.8, 1.5), "truck": (9.0, 2.5, 3.2), "bus": (12.0, 2.5, 3.2), "pedestrian": (0.6, 0.6, 1.75),
    "bicycle": (1.8, 0.6, 1.7), "motorcycle": (2.1, 0.8, 1.5),
}
"""Length, width, height (m) by class when a track carries no size."""


@dataclass
class SiteGeometry:
    """Where the calibrated cameras and the radars are, to project objects into images and onto the map."""

    cameras: dict[str, CameraModel] = field(default_factory=dict)
    radars: dict[str, RadarMount] = field(default_factory=dict)

    @classmethod
    def from_config(cls, cfg: Any) -> SiteGeometry:
        """Cameras of ``fusion.cameras``; radars of ``fusion.radars`` and of sources with a ``pose``."""
        geo = cls()
        for cid, cal in cfg.fusion.cameras.items():
            try:
                geo.cameras[cid] = camera_model(cal)
            except (ValueError, np.linalg.LinAlgError) as exc:  # validated at load; still never fatal here
                log.warning("camera %s: no projection on the dashboard: %s", cid, exc)
        for rid, pose in cfg.fusion.radars.items():
            geo.radars[rid] = radar_mount(pose)
        for src in cfg.sources:
            pose = getattr(src, "pose", None)
            if pose is not None:
                geo.radars[src.id] = radar_mount(pose)
        return geo

    def radar_enu(self, scan: RadarScan) -> np.ndarray | None:
        """``(N, 2)`` ENU positions of the scan's objects, or None for a radar without a known mount."""
        mount = self.radars.get(scan.source)
        if mount is None:
            return None
        if not scan.objects:
            return np.zeros((0, 2))
        xy = np.array([[o.dist_long, o.dist_lat] for o in scan.objects], dtype=np.float64)
        return mount.to_enu(xy)

    def sensors_json(self) -> dict[str, Any]:
        """Sensor positions for the map."""
        cams = []
        for cid, model in self.cameras.items():
            if model.foot is not None:
                centre = model.image_to_ground([[model.image_size[0] / 2, model.image_size[1] * 0.75]])[0]
                cams.append({"id": cid, "e": round(float(model.foot[0]), 2), "n": round(float(model.foot[1]), 2),
                             "look_e": round(float(centre[0]), 2), "look_n": round(float(centre[1]), 2)})
        radars = [{"id": rid, "e": m.position[0], "n": m.position[1], "yaw_deg": m.yaw_deg}
                  for rid, m in self.radars.items()]
        return {"cameras": cams, "radars": radars}
