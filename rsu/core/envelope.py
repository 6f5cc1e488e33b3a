"""The one envelope every product travels in through the box: the product, where it came from, its lane.

Lanes, in the order the router serves them:

- ``SAFETY``: alarms, actuation commands and outcomes, health events. No queue drops them; when they arrive
  faster than they are published the box applies back-pressure to the sensors, never to them.
- ``DERIVED``: what a stage or a plugin made from other products (detections from frames, a plugin's products).
- ``SENSOR``: what the sources read. Freshness-bounded: an input older than its source's maximum age when the
  router would take it is shed and counted as stale (newest wins), so latency stays bounded when the CPU is short.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum

from rsu_sdk import ActuationCommand, ActuationOutcome, Alarm, HealthEvent, Product

__all__ = ["Envelope", "Lane", "SAFETY_TYPES", "lane_of", "plugin_origin", "stage_origin", "source_origin"]

SAFETY_TYPES: tuple[type, ...] = (Alarm, ActuationCommand, ActuationOutcome, HealthEvent)
"""Product types that travel in the safety lane. (CPMs and DENMs are published by plugins straight through the
publisher, whose uplink layer holds safety messages instead of dropping them.)"""


class Lane(IntEnum):
    """Lanes of the box, in the order the router serves them."""

    SAFETY = 0
    DERIVED = 1
    SENSOR = 2


def source_origin(source_id: str) -> str:
    return f"source:{source_id}"


def stage_origin(stage_name: str) -> str:
    return f"stage:{stage_name}"


def plugin_origin(plugin_name: str) -> str:
    return f"plugin:{plugin_name}"


def lane_of(product: Product, origin: str) -> Lane:
    """The lane of ``product`` coming from ``origin`` (``source:<id>``, ``stage:<name>`` or ``plugin:<name>``)."""
    if isinstance(product, SAFETY_TYPES):
        return Lane.SAFETY
    return Lane.SENSOR if origin.startswith("source:") else Lane.DERIVED


@dataclass(frozen=True, slots=True)
class Envelope:
    """A product in transit: ``origin`` names who made it; ``t_ingest_ns`` is the box's monotonic clock when it
    entered a lane (ages are measured from there)."""

    product: Product
    origin: str
    lane: Lane
    t_ingest_ns: int

    @property
    def plugin(self) -> str | None:
        """The plugin that emitted the product, or None for the host's own products."""
        return self.origin[len("plugin:"):] if self.origin.startswith("plugin:") else None

    @property
    def stage(self) -> str | None:
        """The stage that made the product, or None."""
        return self.origin[len("stage:"):] if self.origin.startswith("stage:") else None
