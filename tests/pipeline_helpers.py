"""Inputs and checks shared by the pipeline and Flink tests (not a test module)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from rsu_sdk import Prediction, SensorReading

T0 = 1_767_225_600_000_000_000
CHANNELS = ("temp", "pressure", "flow", "vibration")


def readings(devices: int = 3, samples: int = 200, seed: int = 7) -> list[SensorReading]:
    """Interleaved readings of ``devices`` devices at 1 Hz with a step fault on the last device."""
    rng = np.random.default_rng(seed)
    out = []
    for i in range(samples):
        for d in range(devices):
            x = rng.normal(0.0, 1.0, len(CHANNELS)) + 10.0 * d
            if d == devices - 1 and i > samples // 2:
                x[0] += 8.0
            out.append(SensorReading(source="plant", t_event_ns=T0 + i * 1_000_000_000 + d * 1_000_000,
                                     device=f"dev-{d}", values=dict(zip(CHANNELS, x.tolist()))))
    return out


def recording(tmp: Path, seconds: float = 12.0, seed: int = 3) -> tuple[Any, list[Any]]:
    """A simulated intersection recording: its config and its products in event order."""
    from rsu.config import load_config
    from rsu.sim.intersection.recording import simulate
    from rsu.sources.replay import iter_products

    simulate(tmp, seconds=seconds, seed=seed)
    return load_config(tmp / "config.yaml"), list(iter_products(tmp))


def assert_same_products(a: list[Any], b: list[Any]) -> None:
    """Same object lists (tracks, ids, classes, positions to 1e-6) and the same predictions."""
    assert len(a) == len(b), f"{len(a)} products vs {len(b)}"
    for x, y in zip(a, b):
        assert type(x) is type(y) and x.t_event_ns == y.t_event_ns and x.source == y.source
        if isinstance(x, Prediction):
            assert (x.device, x.model) == (y.device, y.model)
            assert abs(x.score - y.score) <= 1e-9
            continue
        assert [o.track_id for o in x.objects] == [o.track_id for o in y.objects]
        for o, p in zip(x.objects, y.objects):
            assert o.class_name == p.class_name and o.state == p.state
            np.testing.assert_allclose(o.position_enu, p.position_enu, atol=1e-6, rtol=0)
            np.testing.assert_allclose(o.velocity_enu, p.velocity_enu, atol=1e-6, rtol=0)


def sort_key(p: Any) -> tuple[int, str, str]:
    return p.t_event_ns, type(p).__name__, getattr(p, "device", p.source)
