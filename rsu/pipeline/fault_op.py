"""The fault predictor as a keyed stream operator: per-device windows scored by the fault LSTM, batch 1.

:class:`FaultWindowOperator` is a :class:`~rsu.pipeline.window_op.DeviceWindowOperator` whose window is exactly
the fault model's per-device state (a :class:`~rsu.pipeline.windows.DeviceState`: the ring of deviations and
the slow baseline with its time constant from the model metadata), held in the operator's keyed value state,
so both runners checkpoint it and a restart resumes the baseline instead of re-learning it for half an hour.
Its predictions equal :class:`~rsu.pipeline.fault_stage.FaultPredictionStage` in ``inline`` mode.

The operator is pickled to the Flink workers: it carries the :class:`~rsu_sdk.ModelSpec` (a path and
metadata), and the ONNX Runtime session is built by :meth:`FaultWindowOperator.open` (or on first use) in
whichever process runs it, never pickled.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np

from rsu_sdk import ModelSpec, Prediction, Product

from rsu.inference.fault_predictor import FAULT_KIND, FaultPredictor, ModelMetadataError
from rsu.pipeline.operators import Context
from rsu.pipeline.window_op import DeviceWindowOperator
from rsu.pipeline.windows import DeviceWindows

__all__ = ["FaultScorer", "FaultWindowOperator"]


class FaultScorer:
    """A picklable scorer: window -> fault probability, its :class:`FaultPredictor` built lazily."""

    def __init__(self, spec: ModelSpec, *, threads: int = 1, providers: Sequence[str] = ("CPUExecutionProvider",),
                 protection: Any = None) -> None:
        self.spec = spec
        self.threads = threads
        self.providers = tuple(providers)
        self.protection = protection  # models.protection (sealed model files); a config, never a key
        self._predictor: FaultPredictor | None = None
        self._runs_before = 0  # model runs of sessions already closed

    @property
    def runs(self) -> int:
        """Model runs so far (in this process)."""
        return self._runs_before + (0 if self._predictor is None else self._predictor.runs)

    @property
    def predictor(self) -> FaultPredictor:
        """The model session (built on first access; raises :class:`ModelMetadataError` naming the problem)."""
        if self._predictor is None:
            self._predictor = FaultPredictor.from_spec(self.spec, threads=self.threads, providers=self.providers,
                                                       protection=self.protection)
        return self._predictor

    def __call__(self, window: np.ndarray) -> float:
        return self.predictor.score_window(window)

    def close(self) -> None:
        """Drop the session (the next use builds a new one)."""
        self._runs_before = self.runs
        self._predictor = None

    def __getstate__(self) -> dict[str, Any]:
        return {"spec": self.spec, "threads": self.threads, "providers": self.providers,
                "protection": self.protection}

    def __setstate__(self, state: Mapping[str, Any]) -> None:
        self.__init__(state["spec"], threads=state["threads"], providers=state["providers"],  # type: ignore[misc]
                      protection=state.get("protection"))


class FaultWindowOperator(DeviceWindowOperator):
    """SensorReading -> the fault model's Prediction for the device, once its window is due.

    :param spec: a ``fault-predictor`` model a plugin registered (channels, window, ``baseline_tau_s``,
        normalisation in its metadata).
    :param stride: predict every ``stride``-th sample per device once the window is full.
    :param devices: only these devices (empty: every device); others are counted (``skipped_devices``).
    :param channel_map: model channel -> reading key, where a plant names a channel differently.
    :param name: operator name, also the predictions' ``source`` (as the inline stage's).
    """

    def __init__(self, spec: ModelSpec, *, stride: int = 1, devices: Iterable[str] = (),
                 channel_map: Mapping[str, str] | None = None, threads: int = 1, name: str = "fault_prediction",
                 providers: Sequence[str] = ("CPUExecutionProvider",), protection: Any = None) -> None:
        if spec.kind != FAULT_KIND:
            raise ModelMetadataError(f"model {spec.name!r} is a {spec.kind!r}, not a {FAULT_KIND!r}")
        meta = spec.metadata
        for key in ("channels", "window"):
            if key not in meta:
                raise ModelMetadataError(f"model {spec.name!r} ({spec.path}): metadata lacks {key!r}")
        channels = tuple(meta["channels"])
        tau_s = float(meta.get("baseline_tau_s", 0.0))
        super().__init__(channels, window=int(meta["window"]), stride=stride, tau_s=tau_s, name=name,
                         model=spec.name, scorer=FaultScorer(spec, threads=threads, providers=providers,
                                                             protection=protection),
                         source=name)
        self.windows = DeviceWindows(channels, window=int(meta["window"]), stride=stride, tau_s=tau_s,
                                     channel_map=channel_map)
        self.devices = frozenset(devices) or None
        self.skipped_devices = 0

    @property
    def spec(self) -> ModelSpec:
        return self.scorer.spec  # type: ignore[union-attr]

    def open(self) -> None:
        """Load the model now (idempotent): its errors surface at start-up, not on the first full window."""
        _ = self.scorer.predictor  # type: ignore[union-attr]

    def close(self) -> None:
        self.scorer.close()  # type: ignore[union-attr]

    def process(self, element: Product, ctx: Context) -> Iterable[Prediction]:
        if self.devices is not None and element.device not in self.devices:  # type: ignore[union-attr]
            self.skipped_devices += 1
            return ()
        return super().process(element, ctx)

    def stats(self) -> dict[str, Any]:
        return {**super().stats(), "model": self.model, "skipped_devices": self.skipped_devices,
                "model_runs": self.scorer.runs}  # type: ignore[union-attr]
