"""The ``publish.kafka`` section: the box as a Kafka producer (docs/scale-out.md)."""

from __future__ import annotations

import re
from pathlib import Path

from pydantic import Field, field_validator

from rsu.config.base import StrictModel
from rsu.config.uplink import SAFETY_PRODUCTS, Priority

__all__ = ["KafkaConfig", "JournalConfig"]

_TOPIC_PART = re.compile(r"^[A-Za-z0-9._-]{1,200}$")


class JournalConfig(StrictModel):
    """The local disk journal that holds products while the broker is unreachable."""

    dir: Path = Field(default=Path("var/kafka-journal"),
                      description="journal folder, one per box; relative paths are from the working directory")
    max_bytes: int = Field(default=256 * 1024 * 1024, ge=64 * 1024,
                           description="size bound; when full the oldest low-priority records go first, "
                                       "then normal ones; safety records are never dropped")
    segment_bytes: int | None = Field(default=None, ge=4096,
                                      description="segment file size (default max_bytes / 32): the unit dropped "
                                                  "when full")


class KafkaConfig(StrictModel):
    """Every product (or the listed ones) to one topic per product, keyed by what the operators key on."""

    bootstrap_servers: str = Field(default="127.0.0.1:9092", min_length=1,
                                   description="comma-separated host:port of the cluster (`rsu kafka start` "
                                               "runs one on 127.0.0.1:9092)")
    products: list[str] | None = Field(default=None,
                                       description="products to produce (e.g. objects, env, fault); null: all")
    topic_prefix: str = Field(default="rsu", description="topic = <prefix>.<product with / as .>")
    max_in_flight: int = Field(default=10000, ge=1,
                               description="records handed to the client and not yet acknowledged; beyond it "
                                           "(a slow or absent broker) new records go to the journal")
    linger_ms: int = Field(default=5, ge=0, description="the client's batching delay (librdkafka linger.ms)")
    priorities: dict[str, Priority] = Field(default_factory=dict,
                                            description="product -> safety|normal|low, over the built-in "
                                                        "classes (as publish.uplink.priorities)")
    client: dict[str, str | int | float | bool] = Field(
        default_factory=dict, description="extra librdkafka settings (security.protocol, sasl.*, ssl.* ...)")
    close_timeout_s: float = Field(default=10.0, ge=0, description="how long close() waits to deliver")
    journal: JournalConfig = JournalConfig()

    @field_validator("topic_prefix")
    @classmethod
    def _prefix(cls, value: str) -> str:
        if not _TOPIC_PART.match(value):
            raise ValueError(f"expected letters, digits, '.', '_' or '-', got {value!r}")
        return value

    @field_validator("priorities")
    @classmethod
    def _priorities(cls, value: dict[str, Priority]) -> dict[str, Priority]:
        lowered = [p for p, level in value.items() if p in SAFETY_PRODUCTS and level != "safety"]
        if lowered:
            raise ValueError(f"safety products cannot be lowered: {', '.join(lowered)}")
        return value

    @field_validator("client")
    @classmethod
    def _client(cls, value: dict[str, object]) -> dict[str, object]:
        owned = {"bootstrap.servers", "enable.idempotence", "acks", "message.timeout.ms", "linger.ms"} & value.keys()
        if owned:
            raise ValueError(f"{sorted(owned)} are set by rsu (use the section's own keys)")
        return value
