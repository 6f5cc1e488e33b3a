"""The fleet ``rsu bench kafka-flink`` feeds: boxes of a site that outgrew one, as (site, reading) items.

Four plant boxes with 16 devices each and twelve intersection boxes with one air-quality station each: 76
devices from 16 boxes, every reading through the per-device window operator (no model: the cost measured is the
runner's). The readings go round the devices, one every ``spacing_ns`` of event time.
"""

from __future__ import annotations

from rsu_sdk import SensorReading

from rsu.pipeline.window_op import DeviceWindowOperator

__all__ = ["CHANNELS", "DEVICES", "fleet", "readings", "window_operator"]

CHANNELS = ("a", "b", "c", "d")
DEVICES: list[tuple[str, str]] = [*((f"plant-{b}", f"p{b}-d{d:02d}") for b in range(1, 5) for d in range(16)),
                                  *((f"crossing-{x:02d}", f"x{x:02d}-aq") for x in range(1, 13))]
"""(site, device) of every device of the fleet."""


def window_operator() -> DeviceWindowOperator:
    """The operator of the benchmark: a window of 2 readings, a prediction per reading once full."""
    return DeviceWindowOperator(CHANNELS, window=2, stride=1)


def readings(n: int, t0_ns: int, spacing_ns: int = 1_000_000, start: int = 0) -> list[tuple[str, SensorReading]]:
    """``n`` readings of the fleet from ``t0_ns``, ``(site, reading)``; ``start`` offsets the round of devices."""
    out = []
    for i in range(n):
        site, device = DEVICES[(start + i) % len(DEVICES)]
        k = start + i
        out.append((site, SensorReading(source=f"{site}-sensors", t_event_ns=t0_ns + i * spacing_ns, device=device,
                                        values={"a": float(k % 7), "b": 1.0, "c": float(k % 3), "d": 0.5})))
    return out


def fleet() -> dict[str, list[str]]:
    """Site -> its devices."""
    out: dict[str, list[str]] = {}
    for site, device in DEVICES:
        out.setdefault(site, []).append(device)
    return out
