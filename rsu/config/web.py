"""The ``web`` section: the box's own HTTP server (dashboard, ``/api/state``, frames, ``/metrics``, health)."""

from __future__ import annotations

from pydantic import Field

from rsu.config.base import StrictModel
from rsu.config.hosts import Host

__all__ = ["WebConfig"]


class WebConfig(StrictModel):
    """The HTTP server of the box. Off unless ``enabled: true``; loopback only unless ``host`` says otherwise
    (it has no authentication: put a reverse proxy with TLS and a login in front before exposing it)."""

    enabled: bool = False
    host: Host = Field(default="127.0.0.1", min_length=1, description="address to listen on (IP address or host name)")
    port: int = Field(default=8080, ge=0, le=65535, description="0 = an ephemeral port (tests)")
    dashboard: bool = Field(default=True, description="serve the dashboard, /api/state and frames "
                                                      "(false: only /metrics, /healthz, /readyz)")
    frame_fps: float = Field(default=5.0, gt=0, le=30, description="most JPEG encodes per camera per second; "
                                                                   "frames are encoded only when requested")
    jpeg_quality: int = Field(default=80, ge=10, le=100)
    max_width: int = Field(default=960, ge=160, le=4096, description="wider frames are scaled down first")
    frame_history: int = Field(default=8, ge=1, le=64,
                               description="recent frames kept per camera to pair with their (later) detections")
    recent_events: int = Field(default=50, ge=1, le=1000, description="alarms / actuations kept for the dashboard")
    poll_ms: int = Field(default=500, ge=100, le=10_000, description="how often the dashboard refreshes its state")
