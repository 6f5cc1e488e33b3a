"""``publish.uplink``: measure the publisher's link and thin / batch / hold products by priority."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator, model_validator

from rsu.config.base import StrictModel

__all__ = ["UplinkConfig", "ThinConfig", "UplinkBatchConfig", "Priority", "SAFETY_PRODUCTS"]

Priority = Literal["safety", "normal", "low"]
SAFETY_PRODUCTS = ("v2x/cpm", "fault", "actuation", "health")


class ThinConfig(StrictModel):
    """Keep 1 message of every N per topic (1 keeps all)."""

    low: int = Field(ge=1, description="keep 1 of every N low-priority messages (detections, snapshots)")
    normal: int = Field(ge=1, description="keep 1 of every N normal messages (objects, radar, env)")


class UplinkBatchConfig(StrictModel):
    """Opt-in: while the link is slow, small messages of ``products`` go out as ``rsu.batch/1`` messages on
    their own topic (docs/wire-format.md); subscribers must unpack them (``rsu tap`` does)."""

    enabled: bool = False
    products: list[str] = Field(default_factory=lambda: ["env"], description="normal-priority products to batch")
    max_items: int = Field(default=50, ge=2, description="items per batch message")
    max_delay_ms: int = Field(default=200, ge=1, description="an item waits at most this long")
    max_item_bytes: int = Field(default=2048, ge=1, description="larger messages are sent on their own")

    @field_validator("products")
    @classmethod
    def _not_safety(cls, value: list[str]) -> list[str]:
        bad = [p for p in value if p in SAFETY_PRODUCTS or p.startswith("v2x/")]
        if bad:
            raise ValueError(f"safety products are never batched: {', '.join(bad)}")
        return value


class UplinkConfig(StrictModel):
    """Link states ``good`` -> ``slow`` -> ``congested`` from the send backlog (the kernel's send queue of each
    subscriber connection), refused sends and an optional TCP probe; each state thins by ``slow`` /
    ``congested``. Safety products are never thinned: a send a full queue refuses is held and retried in order."""

    enabled: bool = True
    interval_s: float = Field(default=0.5, gt=0, description="how often the link is measured")
    slow_backlog_bytes: int = Field(default=65_536, gt=0, description="send backlog that makes the link slow")
    congested_backlog_bytes: int = Field(default=524_288, gt=0, description="... congested")
    recover_s: float = Field(default=3.0, ge=0, description="readings must stay lower this long to step down")
    probe: str | None = Field(default=None, pattern=r"^[^:\s]+:\d+$",
                              description="HOST:PORT timed by a TCP connect each interval (e.g. the gateway)")
    probe_slow_ms: float = Field(default=250.0, gt=0, description="probe round trip that makes the link slow")
    slow: ThinConfig = ThinConfig(low=5, normal=1)
    congested: ThinConfig = ThinConfig(low=20, normal=2)
    priorities: dict[str, Priority] = Field(default_factory=dict,
                                            description="product -> priority, for plugin products")
    safety_backlog_max: int = Field(default=100_000, gt=0, description="held safety messages before refusing")
    close_flush_s: float = Field(default=2.0, ge=0, description="how long close() tries to send held messages")
    announce: bool = Field(default=True, description="publish a health event (component 'uplink') on each change")
    batch: UplinkBatchConfig = UplinkBatchConfig()

    @model_validator(mode="after")
    def _check(self) -> UplinkConfig:
        if self.congested_backlog_bytes < self.slow_backlog_bytes:
            raise ValueError("congested_backlog_bytes must not be below slow_backlog_bytes")
        lowered = [p for p, level in self.priorities.items() if p in SAFETY_PRODUCTS and level != "safety"]
        if lowered:
            raise ValueError(f"priorities: safety products cannot be lowered: {', '.join(lowered)}")
        return self
