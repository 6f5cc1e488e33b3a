"""The ``tiered`` section: answer easy camera frames locally, offload hard ones to an edge inference server.

The box side (``enabled``, ``endpoint``, ``deadline_ms``, ``offload``) wraps the detector stage; the server side
(``server``) is what ``rsu serve-inference CONFIG`` runs.
"""

from __future__ import annotations

from pydantic import Field, model_validator

from rsu.config.base import StrictModel
from rsu.config.hosts import ZmqEndpoint
from rsu.config.models import DetectorConfig
from rsu.config.publish import ClientCurveConfig, CurveConfig
from rsu.core.netsec import insecure_bind_problem, is_loopback

__all__ = ["OffloadPolicyConfig", "BackoffConfig", "InferenceServerConfig", "ClientCurveConfig", "TieredConfig",
           "is_loopback", "insecure_bind_problem"]


class OffloadPolicyConfig(StrictModel):
    """Which frames are hard: any of these sends the frame to the server."""

    low_confidence: float | None = Field(default=0.5, ge=0, le=1,
                                         description="a local detection scored below this is uncertain")
    overlap_iou: float = Field(default=0.3, gt=0, le=1, description="IoU at which two local boxes overlap")
    overlapping_objects: int | None = Field(default=3, ge=2,
                                            description="this many local boxes that overlap another: a crowd")
    classes: list[str] = Field(default_factory=list,
                               description="local classes the bigger model should settle (e.g. SSD's 'Vehicle')")
    every_frame: bool = Field(default=False, description="offload every frame (tests, benchmarks)")


class BackoffConfig(StrictModel):
    """After ``after_failures`` unanswered requests in a row, answer locally for ``seconds`` (counted)."""

    after_failures: int = Field(default=5, ge=1)
    seconds: float = Field(default=2.0, ge=0)


class InferenceServerConfig(StrictModel):
    """``rsu serve-inference``: the larger model on the edge server."""

    bind: ZmqEndpoint = Field(default="tcp://127.0.0.1:5570", min_length=6,
                              description="beyond loopback only with ``curve`` (start-up is refused otherwise)")
    detector: DetectorConfig = DetectorConfig(model="nanodet-m")
    curve: CurveConfig | None = Field(default=None, description="CURVE keys: only the boxes in authorized_keys "
                                                                "get answers")
    max_request_bytes: int = Field(default=8 * 1024 * 1024, ge=1024, le=256 * 1024 * 1024,
                                   description="a larger JPEG is refused (a far larger message disconnected)")
    max_image_side: int = Field(default=4096, ge=32, le=65535,
                                description="a JPEG whose header claims a longer side is refused undecoded")
    max_image_pixels: int = Field(default=4096 * 4096, ge=1024,
                                  description="a JPEG whose header claims more pixels is refused undecoded")

    @model_validator(mode="after")
    def _secure_beyond_loopback(self) -> InferenceServerConfig:
        problem = insecure_bind_problem(self.bind, self.curve, "tiered.server.curve")
        if problem:
            raise ValueError(problem)
        return self


class TieredConfig(StrictModel):
    """Tiered inference: the local detector answers, the edge server's larger model settles hard frames."""

    enabled: bool = True
    endpoint: ZmqEndpoint = Field(default="tcp://127.0.0.1:5570", min_length=6, description="the server to connect to")
    deadline_ms: float = Field(default=150.0, gt=0, le=10_000,
                               description="a later (or missing) answer falls back to the local result")
    jpeg_quality: int = Field(default=85, ge=10, le=100)
    max_side: int | None = Field(default=None, ge=64, description="downscale frames to this longest side first")
    offload: OffloadPolicyConfig = OffloadPolicyConfig()
    backoff: BackoffConfig = BackoffConfig()
    curve: ClientCurveConfig | None = Field(default=None, description="needed when the server runs CURVE")
    server: InferenceServerConfig = InferenceServerConfig()
