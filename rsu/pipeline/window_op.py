"""Per-device sliding windows of sensor readings (:mod:`rsu.pipeline.windows`), scored into predictions.

Key: the reading's ``device``. State: that device's :class:`~rsu.pipeline.windows.DeviceState` (value state
``window``). When :class:`~rsu.pipeline.windows.DeviceWindows` says a window is due, ``scorer`` turns it into a
score. The default scorer is a deterministic anomaly score (largest |z| of the newest sample against the
window, squashed to [0, 1)); the fault predictor passes its LSTM instead.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any

import numpy as np

from rsu_sdk import Prediction, Product, SensorReading

from rsu.pipeline.operators import Context, Operator
from rsu.pipeline.windows import DeviceWindows

__all__ = ["DeviceWindowOperator", "zscore_score"]

Scorer = Callable[[np.ndarray], float]


def zscore_score(window: np.ndarray) -> float:
    """``1 - exp(-max|z| / 3)`` of the newest row against the whole window."""
    w = np.asarray(window, dtype=np.float64)
    sd = w.std(axis=0)
    z = np.abs(w[-1] - w.mean(axis=0)) / np.where(sd > 1e-9, sd, 1.0)
    return float(1.0 - np.exp(-float(z.max()) / 3.0))


class DeviceWindowOperator(Operator):
    """SensorReading -> Prediction whenever the device's window is due (every ``stride`` samples once full)."""

    handles = (SensorReading,)

    def __init__(self, channels: Sequence[str], *, window: int = 60, stride: int = 1, tau_s: float = 0.0,
                 name: str = "windows", model: str = "window-zscore", scorer: Scorer | None = None,
                 source: str = "pipeline") -> None:
        self.name, self.model, self.source = name, model, source
        self.scorer = scorer or zscore_score
        self.windows = DeviceWindows(channels, window=window, stride=stride, tau_s=tau_s)

    def key(self, element: Product) -> str:
        return element.device  # type: ignore[union-attr]

    def key_spec(self) -> tuple[str, str]:
        return ("field", "device")

    def process(self, element: Product, ctx: Context) -> Iterable[Prediction]:
        reading: SensorReading = element  # type: ignore[assignment]
        state = ctx.value_state("window")
        held = state.value()
        dw = self.windows
        if held is not None:
            dw.states[reading.device] = held
        window = dw.push(reading)
        new = dw.states.pop(reading.device, None)
        if new is not None:
            state.update(new)
        if window is None:
            return ()
        return (Prediction(source=self.source, t_event_ns=reading.t_event_ns, device=reading.device,
                           model=self.model, score=float(self.scorer(window))),)

    def stats(self) -> dict[str, Any]:
        return dict(self.windows.counts)
