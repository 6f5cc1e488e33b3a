"""The power governor in the running box: an inline stage that watches every product and emits nothing.

What counts as activity: detections with boxes, radar cycles with a moving object, object lists with objects,
sensor readings, predictions, alarms and actuations. Empty scenes, health events and frames do not.
"""

from __future__ import annotations

from typing import Any

from rsu_sdk import (
    ActuationCommand,
    ActuationOutcome,
    Alarm,
    Detections,
    HealthEvent,
    ObjectList,
    Prediction,
    Product,
    RadarScan,
    SensorReading,
)

from rsu.core.stage import BaseStage
from rsu.power.governor import PowerGovernor

__all__ = ["PowerStage", "is_activity", "power_stages"]

_MOVING_MPS = 0.5


def is_activity(product: Product) -> bool:
    """True when ``product`` means traffic or plant activity (see the module docstring)."""
    if isinstance(product, Detections):
        return len(product) > 0
    if isinstance(product, ObjectList):
        return len(product.objects) > 0
    if isinstance(product, RadarScan):
        return any(abs(o.vrel_long) > _MOVING_MPS or abs(o.vrel_lat) > _MOVING_MPS for o in product.objects)
    return isinstance(product, (SensorReading, Prediction, Alarm, ActuationCommand, ActuationOutcome))


class PowerStage(BaseStage):
    """Feeds a :class:`PowerGovernor` from the host's routing thread; returns no products."""

    name = "power"
    handles = (Detections, RadarScan, ObjectList, SensorReading, Prediction, Alarm, ActuationCommand,
               ActuationOutcome, HealthEvent)

    def __init__(self, governor: PowerGovernor) -> None:
        self.governor = governor

    def process(self, product: Product) -> list[Product]:
        if isinstance(product, Alarm):
            self.governor.set_alarm((product.source, product.device, product.kind), product.active)
        if is_activity(product):
            self.governor.note_activity()
        return []

    def stats(self) -> dict[str, Any]:
        return self.governor.stats()


def power_stages(cfg: Any, *, workers: list[Any], services: list[Any]) -> list[PowerStage]:
    """``[PowerStage]`` when ``power.enabled`` (its governor goes into ``services``, started with the box), else [].

    ``workers``: the host's worker stages; a detector's adaptive rate (``.rate.busy``) keeps the box busy.
    """
    if not cfg.power.enabled:
        return []
    import psutil

    from rsu.pipeline.adaptive import AdaptiveRate

    rates = [w.rate for w in workers if isinstance(getattr(w, "rate", None), AdaptiveRate)]
    psutil.cpu_percent(None)  # the first call only starts the measurement
    governor = PowerGovernor(cfg.power, busy_signals=[lambda r=r: bool(r.busy) for r in rates],
                             cpu_percent=lambda: psutil.cpu_percent(None))
    from rsu.core.lifecycle import CallbackService

    services.append(CallbackService("power-governor", on_start=governor.start, on_stop=governor.stop))
    return [PowerStage(governor)]
