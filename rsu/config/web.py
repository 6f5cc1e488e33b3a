"""The ``web`` section: the box's own HTTP server (dashboard, ``/api/state``, frames, ``/metrics``, health)."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, model_validator

from rsu.config.base import StrictModel
from rsu.config.hosts import Host
from rsu.core.netsec import insecure_host_problem

__all__ = ["WebConfig", "WebTlsConfig"]


class WebTlsConfig(StrictModel):
    """HTTPS on ``web.port`` (``rsu keys tls DIR`` makes a CA, the server's certificate and client certificates)."""

    cert: Path = Field(description="the server's certificate (PEM; a chain: server first)")
    key: Path = Field(description="the server certificate's private key (PEM, unencrypted, mode 0600)")
    client_ca: Path | None = Field(default=None, description="CA certificate(s) (PEM): set, every client must "
                                                             "present a certificate signed by it; enough beyond "
                                                             "loopback without a token")


class WebConfig(StrictModel):
    """The HTTP server of the box. Off unless ``enabled: true``; loopback only unless ``host`` says otherwise,
    and then only with ``token_file`` or client certificates (``tls.client_ca``); start-up is refused otherwise."""

    enabled: bool = False
    host: Host = Field(default="127.0.0.1", min_length=1, description="address to listen on (IP address or host name)")
    token_file: Path | None = Field(default=None, description="file holding the token every request must present "
                                                              "(`rsu keys token FILE` makes one); needed beyond "
                                                              "loopback")
    tls: WebTlsConfig | None = Field(default=None, description="HTTPS (and client certificates) on web.port")
    threads: int = Field(default=4, ge=1, le=64, description="request threads (a fixed pool)")
    max_connections: int = Field(default=100, ge=1, le=10_000, description="open connections at most; more wait")
    idle_timeout_s: float = Field(default=15.0, gt=0, le=3600,
                                  description="a connection idle (or half-open) this long is closed")
    max_header_bytes: int = Field(default=16 * 1024, ge=1024, le=1024 * 1024,
                                  description="a request with larger headers is refused (431)")
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

    @model_validator(mode="after")
    def _auth_beyond_loopback(self) -> WebConfig:
        client_certs = self.tls is not None and self.tls.client_ca is not None
        problem = insecure_host_problem(self.host, self.token_file is not None or client_certs,
                                        "web.token_file or web.tls.client_ca") if self.enabled else None
        if problem:
            raise ValueError(problem)
        return self
