"""The ``fusion`` section: camera/radar calibration and the camera-radar fusion and tracker settings."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

from pydantic import Field, model_validator

from rsu.config.base import StrictModel

__all__ = [
    "RadarPose", "GroundPoint", "Intrinsics", "CameraMount", "CameraCalibration", "FusionConfig",
    "DEFAULT_CLASS_MAP", "check_fusion_sources",
]

DEFAULT_CLASS_MAP: dict[str, str] = {
    "person": "pedestrian", "pedestrian": "pedestrian", "bicycle": "bicycle", "cyclist": "bicycle",
    "car": "car", "vehicle": "car", "motorcycle": "motorcycle", "bus": "truck", "truck": "truck",
}
"""Detector label -> fusion class (``car``, ``truck``, ``pedestrian``, ``bicycle``, ``motorcycle``)."""


class RadarPose(StrictModel):
    """Where a radar is mounted: position in ENU metres from the site origin, boresight yaw clockwise from North."""

    position: tuple[float, float, float] = (0.0, 0.0, 0.0)
    yaw_deg: float = Field(default=0.0, ge=-360, le=360)


class GroundPoint(StrictModel):
    """A surveyed point: where it is on the ground (ENU metres) and where the camera sees it (pixels)."""

    pixel: tuple[float, float]
    enu: tuple[float, float]


class Intrinsics(StrictModel):
    fx: float = Field(gt=0)
    fy: float = Field(gt=0)
    cx: float
    cy: float


class CameraMount(StrictModel):
    """The camera's pose: position ENU (metres), yaw clockwise from North, pitch below the horizon."""

    position: tuple[float, float, float]
    yaw_deg: float = 0.0
    pitch_deg: float = Field(default=0.0, ge=-90, le=90)


class CameraCalibration(StrictModel):
    """One camera: the ground-plane homography comes from ``ground_points`` (>= 4, solved by DLT) or, when
    absent, from ``intrinsics`` + ``mount``. ``mount.position`` alone is enough to correct box-bottom points
    toward object centres and to know the camera's range."""

    image_size: tuple[int, int] = Field(description="(width, height) in pixels")
    ground_points: list[GroundPoint] = Field(default_factory=list)
    intrinsics: Intrinsics | None = None
    mount: CameraMount | None = None
    max_range_m: float = Field(default=80.0, gt=0, description="objects beyond this are not expected to be seen")
    max_reprojection_px: float = Field(default=4.0, gt=0, description="rms limit of the surveyed points")

    @model_validator(mode="after")
    def _solvable(self) -> CameraCalibration:
        if self.ground_points:
            if len(self.ground_points) < 4:
                raise ValueError(f"ground_points: need at least 4 surveyed points, got {len(self.ground_points)}")
            from rsu.core.homography import check_ground_points

            problem = check_ground_points(self)
            if problem:
                raise ValueError(f"ground_points: {problem}")
        elif self.intrinsics is None or self.mount is None:
            raise ValueError("give ground_points (>= 4) or both intrinsics and mount")
        return self


class FusionConfig(StrictModel):
    """Camera-radar fusion and tracking (``rsu.fusion.FusionEngine``)."""

    enabled: bool = True
    mode: Literal["fused", "camera_only", "radar_only"] = "fused"
    output_source: str = Field(default="fusion", min_length=1, description="source id of the ObjectList products")
    cameras: dict[str, CameraCalibration] = Field(default_factory=dict, description="per camera source id")
    radars: dict[str, RadarPose] = Field(default_factory=dict, description="per radar source id")
    class_map: dict[str, str] = Field(default_factory=lambda: dict(DEFAULT_CLASS_MAP))
    # time alignment
    max_out_of_order_ms: float = Field(default=150.0, ge=0, description="bounded out-of-orderness per source")
    pair_window_ms: float = Field(default=50.0, ge=0, description="nearest radar cycle within this of a frame")
    idle_source_s: float = Field(default=1.0, gt=0, description="a source this far behind stops holding time back")
    # association
    min_confidence: float = Field(default=0.3, ge=0, le=1)
    gate_m: float = Field(default=3.0, gt=0, description="camera-radar and track gate on the ground plane")
    gate_per_m: float = Field(default=0.03, ge=0, description="gate growth per metre of range")
    # tracking
    confirm_hits: int = Field(default=3, ge=1)
    tentative_timeout_s: float = Field(default=0.35, gt=0)
    lost_after_s: float = Field(default=0.25, gt=0)
    delete_after_s: float = Field(default=1.5, gt=0)
    camera_veto_frames: int = Field(default=8, ge=0, description="fused: hide radar-only tracks the camera "
                                    "should see but never did after this many frames (0 = off)")
    accel_std: float = Field(default=2.5, gt=0, description="process noise, m/s^2")
    camera_pos_std_m: float = Field(default=0.4, gt=0)
    camera_pos_std_per_m: float = Field(default=0.015, ge=0)
    radar_pos_std_m: float = Field(default=0.35, gt=0)
    radar_vel_std_mps: float = Field(default=0.4, gt=0)


def check_fusion_sources(fusion: FusionConfig, sources: Sequence[Any]) -> None:
    """A radar pose may be given on the source (``sources[i].pose``) or in ``fusion.radars``, not both."""
    for src in sources:
        pose = getattr(src, "pose", None)
        if pose is not None and src.id in fusion.radars:
            raise ValueError(f"fusion.radars.{src.id}: pose also given in the source entry; keep one")
