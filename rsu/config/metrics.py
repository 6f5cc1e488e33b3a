"""The ``metrics`` section: Prometheus metrics served at ``/metrics`` by the web server."""

from __future__ import annotations

from pydantic import Field, field_validator

from rsu.config.base import StrictModel

__all__ = ["MetricsConfig"]


class MetricsConfig(StrictModel):
    """What ``/metrics`` exports (needs ``web.enabled``)."""

    enabled: bool = True
    process: bool = Field(default=True, description="CPU and memory of the process and the host (psutil)")
    latency_buckets_ms: list[float] = Field(
        default_factory=lambda: [1, 2, 5, 10, 20, 35, 50, 75, 100, 150, 200, 300, 500, 1000, 2000],
        min_length=1, description="upper bounds of the inference latency histogram buckets, ms")

    @field_validator("latency_buckets_ms")
    @classmethod
    def _increasing(cls, value: list[float]) -> list[float]:
        if any(b <= 0 for b in value) or any(b2 <= b1 for b1, b2 in zip(value, value[1:])):
            raise ValueError(f"latency_buckets_ms: expected positive, strictly increasing values, got {value}")
        return value
