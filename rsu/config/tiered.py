"""The ``tiered`` section: answer easy camera frames locally, offload hard ones to an edge inference server.

The box side (``enabled``, ``endpoint``, ``deadline_ms``, ``offload``) wraps the detector stage; the server side
(``server``) is what ``rsu serve-inference CONFIG`` runs.
"""

from __future__ import annotations

from pydantic import Field

from rsu.config.base import StrictModel
from rsu.config.hosts import ZmqEndpoint
from rsu.config.models import DetectorConfig

__all__ = ["OffloadPolicyConfig", "BackoffConfig", "InferenceServerConfig", "TieredConfig"]


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

    bind: ZmqEndpoint = Field(default="tcp://127.0.0.1:5570", min_length=6)
    detector: DetectorConfig = DetectorConfig(model="nanodet-m")


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
    server: InferenceServerConfig = InferenceServerConfig()
