"""Per-device sliding windows of sensor readings, scored by a model into :class:`Prediction` values.

Key: the reading's ``device``. State: a ``(window, channels)`` array and the count of samples seen (value
state ``window``). Every ``stride`` samples once the window is full, ``scorer`` turns the window into a
score. The default scorer is a deterministic anomaly score (largest |z| of the newest sample against the
window, squashed to [0, 1)); the fault-predictor operator passes the LSTM instead.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any

import numpy as np

from rsu_sdk import Prediction, Product, SensorReading

from rsu.pipeline.operators import Context, Operator

__all__ = ["DeviceWindowOperator", "zscore_score"]

Scorer = Callable[[np.ndarray], float]


def zscore_score(window: np.ndarray) -> float:
    """``1 - exp(-max|z| / 3)`` of the newest row against the whole window."""
    mu = window.mean(axis=0)
    sd = window.std(axis=0)
    z = np.abs(window[-1] - mu) / np.where(sd > 1e-9, sd, 1.0)
    return float(1.0 - np.exp(-float(z.max()) / 3.0))


class DeviceWindowOperator(Operator):
    """SensorReading -> Prediction every ``stride`` samples per device once ``window`` samples are held."""

    handles = (SensorReading,)

    def __init__(self, channels: Sequence[str], *, window: int = 60, stride: int = 1, name: str = "windows",
                 model: str = "window-zscore", scorer: Scorer | None = None, source: str = "pipeline") -> None:
        if window < 2 or stride < 1:
            raise ValueError(f"window must be >= 2 and stride >= 1, got {window}, {stride}")
        self.name, self.channels, self.window, self.stride = name, tuple(channels), window, stride
        self.model, self.scorer, self.source = model, scorer or zscore_score, source
        self.counts = {"readings": 0, "predictions": 0, "missing_channels": 0}

    def key(self, element: Product) -> str:
        return element.device  # type: ignore[union-attr]

    def process(self, element: Product, ctx: Context) -> Iterable[Prediction]:
        reading: SensorReading = element  # type: ignore[assignment]
        self.counts["readings"] += 1
        try:
            row = [reading.values[c] for c in self.channels]
        except KeyError:
            self.counts["missing_channels"] += 1
            return ()
        state = ctx.value_state("window")
        held = state.value()
        if held is None:
            held = [np.zeros((self.window, len(self.channels))), 0]
        buf, n = held
        buf[n % self.window] = row
        n += 1
        held[1] = n
        state.update(held)
        if n < self.window or (n - self.window) % self.stride:
            return ()
        start = n % self.window
        ordered = np.concatenate([buf[start:], buf[:start]]) if start else buf
        self.counts["predictions"] += 1
        return (Prediction(source=self.source, t_event_ns=reading.t_event_ns, device=reading.device,
                           model=self.model, score=self.scorer(ordered)),)

    def stats(self) -> dict[str, Any]:
        return dict(self.counts)
