"""The ``models`` section: the camera detector (model file, decoder, providers, thresholds, batching)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator

from rsu.config.base import StrictModel
from rsu.config.protection import ModelProtectionConfig

PROVIDER_ALIASES: dict[str, str] = {
    "tensorrt": "TensorrtExecutionProvider",
    "cuda": "CUDAExecutionProvider",
    "cann": "CANNExecutionProvider",
    "openvino": "OpenVINOExecutionProvider",
    "directml": "DmlExecutionProvider",
    "coreml": "CoreMLExecutionProvider",
    "cpu": "CPUExecutionProvider",
}


class DetectorConfig(StrictModel):
    """The camera object detector.

    ``model`` is a file (``.onnx`` or ``.tflite``) or the name of a fetched asset (``nanodet-m``,
    ``ssd-mobilenetv2``; see ``rsu assets status``).
    """

    model: str = Field(default="nanodet-m", min_length=1)
    kind: str = Field(default="auto", pattern=r"^[a-z0-9_-]+$",
                      description="decoder: auto (from ONNX metadata or output shapes), ssd, nanodet, yolov5, yolov8")
    providers: list[str] = Field(default_factory=lambda: ["tensorrt", "cuda", "cann", "openvino", "cpu"],
                                 min_length=1, description="execution providers in order of preference")
    conf_threshold: float = Field(default=0.35, ge=0, le=1)
    class_thresholds: dict[str, float] = Field(default_factory=dict,
                                               description="class name -> threshold overriding conf_threshold")
    classes: list[str] | None = Field(default=None, description="keep only these class names; None = all")
    iou_threshold: float = Field(default=0.5, gt=0, le=1)
    max_detections: int = Field(default=300, gt=0)
    input_size: int | None = Field(default=None, gt=0, description="square input side; None = the model's")
    resize: Literal["auto", "letterbox", "stretch"] = "auto"
    batch: int = Field(default=1, gt=0, description="frames of one stream per inference call (rsu detect VIDEO; "
                       "models with a dynamic batch)")
    batch_window_ms: float | None = Field(
        default=None, ge=0, le=1000,
        description="the box: frames of several cameras arriving within this window run as one batch (one per "
                    "camera, the newest); 0 = one call per frame; None = 10 on an accelerator or when max_batch "
                    "is set, else off (on the CPU a batch is no faster per frame)")
    max_batch: int | None = Field(default=None, gt=0,
                                  description="the box: most cameras' frames in one batch; None = all cameras")
    threads: int | None = Field(default=None, gt=0, description="intra-op threads; None = ONNX Runtime's choice")
    allow_spinning: bool = Field(default=True, description="session.intra_op.allow_spinning; false when sharing cores")

    @field_validator("providers")
    @classmethod
    def _known_providers(cls, value: list[str]) -> list[str]:
        for name in value:
            if name.lower() not in PROVIDER_ALIASES and not name.endswith("ExecutionProvider"):
                raise ValueError(f"unknown execution provider {name!r}; use one of {sorted(PROVIDER_ALIASES)} "
                                 "or a full ONNX Runtime provider name")
        return value

    @field_validator("class_thresholds")
    @classmethod
    def _thresholds_in_range(cls, value: dict[str, float]) -> dict[str, float]:
        for name, th in value.items():
            if not 0.0 <= th <= 1.0:
                raise ValueError(f"class_thresholds[{name!r}]: must lie in [0, 1], got {th}")
        return value


class ModelsConfig(StrictModel):
    detector: DetectorConfig = DetectorConfig()
    protection: ModelProtectionConfig = ModelProtectionConfig()  # sealed model files (rsu model seal)


class PrivacyConfig(StrictModel):
    """What is blurred in a frame before it leaves the box (snapshot topic, dashboard, recording).

    On by default; only ``blur: false`` turns it off.
    """

    blur: bool = True
    method: Literal["gaussian", "pixelate"] = "gaussian"
    head_fraction: float = Field(default=0.28, gt=0, le=1, description="top share of a person box that is blurred")
    plate_band: tuple[float, float] = Field(default=(0.55, 1.0), description="vertical band of a vehicle box")
    plate_width: float = Field(default=0.7, gt=0, le=1, description="central share of a vehicle box's width")
    person_classes: list[str] = Field(default_factory=lambda: ["person", "Person"])
    vehicle_classes: list[str] = Field(default_factory=lambda: [
        "car", "truck", "bus", "motorcycle", "Car", "Vehicle"])

    @field_validator("plate_band")
    @classmethod
    def _band(cls, value: tuple[float, float]) -> tuple[float, float]:
        lo, hi = value
        if not 0.0 <= lo < hi <= 1.0:
            raise ValueError(f"plate_band: expected 0 <= low < high <= 1, got {value}")
        return value
