"""The fault LSTM on ONNX Runtime: windows of deviations -> fault probabilities, per device.

The model and its metadata come from the plugin that registered it (``ModelSpec`` of kind
``fault-predictor``); normalisation (per-channel mean/std), channel order, window length and the baseline
time constant travel in that metadata, so the host never hard-codes them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from rsu_sdk import ModelSpec, Prediction

__all__ = ["FaultPredictor", "ModelMetadataError", "FAULT_KIND"]

FAULT_KIND = "fault-predictor"
_REQUIRED = ("channels", "window", "mean", "std", "input")


class ModelMetadataError(ValueError):
    """A fault model's metadata is missing or inconsistent; the message names the key."""


class FaultPredictor:
    """One ORT session for a fault model.

    :param threads: ORT intra-op threads (1 suits a box that also runs sources and other models).
    :param protection: ``models.protection`` for sealed model files (None: the default environment variables).
    """

    def __init__(self, name: str, path: Path, metadata: Mapping[str, Any], *, threads: int = 1,
                 providers: Sequence[str] = ("CPUExecutionProvider",), protection: Any = None) -> None:
        for key in _REQUIRED:
            if key not in metadata:
                raise ModelMetadataError(f"model {name!r} ({path}): metadata lacks {key!r}")
        self.name = name
        self.path = Path(path)
        self.channels: tuple[str, ...] = tuple(metadata["channels"])
        self.window = int(metadata["window"])
        self.rate_hz = float(metadata.get("rate_hz", 1.0))
        self.baseline_tau_s = float(metadata.get("baseline_tau_s", 0.0))
        self.mean = np.asarray(metadata["mean"], dtype=np.float32)
        self.inv_std = (1.0 / np.asarray(metadata["std"], dtype=np.float64)).astype(np.float32)
        if not (self.mean.shape == self.inv_std.shape == (len(self.channels),)):
            raise ModelMetadataError(f"model {name!r}: mean/std must have one value per channel "
                                     f"({len(self.channels)}), got {self.mean.shape} and {self.inv_std.shape}")
        self.input_name = str(metadata["input"])
        self._threads, self._providers, self._protection = threads, list(providers), protection
        self.session = self._open(self.path)
        self.version: int | None = None  # set by reload() (federated global model versions)
        self.runs = 0
        self.windows = 0

    def _open(self, model: Path | bytes) -> Any:
        """A checked session for ``model`` (a file, sealed or plain, or ONNX bytes held in memory)."""
        import onnxruntime as ort

        from rsu.inference.seal import load_model

        source = model if isinstance(model, bytes) else load_model(model, self._protection)
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = self._threads
        opts.inter_op_num_threads = 1
        opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
        where = "in-memory model" if isinstance(model, bytes) else str(model)
        try:
            session = ort.InferenceSession(source, opts, providers=self._providers)
        except Exception as exc:  # ORT raises its own exception types
            raise ModelMetadataError(f"model {self.name!r}: cannot load {where}: {exc}") from None
        shape = session.get_inputs()[0].shape
        if shape[-2:] != [self.window, len(self.channels)]:
            raise ModelMetadataError(f"model {self.name!r}: input shape {shape} does not match window {self.window} "
                                     f"x {len(self.channels)} channels in its metadata")
        return session

    def reload(self, model: Path | bytes, version: int | None = None) -> None:
        """Swap in new weights (same channels, window and normalisation) without a restart: the new session is
        built and checked first, then replaces the old one in one assignment; a bad model leaves the old one."""
        self.session = self._open(model)
        self.version = version

    @classmethod
    def from_spec(cls, spec: ModelSpec, **kwargs: Any) -> FaultPredictor:
        if spec.kind != FAULT_KIND:
            raise ModelMetadataError(f"model {spec.name!r} is a {spec.kind!r}, not a {FAULT_KIND!r}")
        return cls(spec.name, spec.path, spec.metadata, **kwargs)

    def predict(self, windows: np.ndarray) -> np.ndarray:
        """``(b, window, channels)`` deviations -> ``(b,)`` fault probabilities (float32)."""
        x = (np.asarray(windows, dtype=np.float32) - self.mean) * self.inv_std
        out = self.session.run(None, {self.input_name: x})[0]
        self.runs += 1
        self.windows += x.shape[0]
        return out.reshape(-1)

    def score_window(self, window: np.ndarray) -> float:
        """One window -> one probability (a scorer for per-key window operators)."""
        return float(self.predict(window[None])[0])

    def predictions(self, items: Sequence[tuple[str, int, np.ndarray]], source: str) -> list[Prediction]:
        """Batch ``(device, t_event_ns, window)`` items into one run; one :class:`Prediction` per item."""
        scores = self.predict(np.stack([w for _, _, w in items]))
        return [Prediction(source=source, t_event_ns=t, device=dev, model=self.name, score=float(s))
                for (dev, t, _), s in zip(items, scores)]
