"""The model files this plugin ships, and their metadata (what the host needs to run them)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from rsu_sdk import ModelSpec

__all__ = ["HERE", "MODEL_KIND", "FP32_NAME", "INT8_NAME", "load_metadata", "model_specs"]

HERE = Path(__file__).resolve().parent
MODEL_KIND = "fault-predictor"
FP32_NAME = "fault-lstm"
INT8_NAME = "fault-lstm-int8"
METADATA_FILE = "fault_lstm.json"


def load_metadata(folder: Path = HERE) -> dict[str, Any]:
    """Read ``fault_lstm.json``: channels, window, rate, normalisation, thresholds, training settings."""
    path = folder / METADATA_FILE
    try:
        meta = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise RuntimeError(f"{path}: cannot read the fault model metadata: {exc}") from None
    for key in ("channels", "window", "rate_hz", "mean", "std", "input", "output", "files"):
        if key not in meta:
            raise RuntimeError(f"{path}: missing key {key!r}")
    if not len(meta["channels"]) == len(meta["mean"]) == len(meta["std"]):
        raise RuntimeError(f"{path}: channels, mean and std must have the same length")
    return meta


def model_specs(folder: Path = HERE) -> list[ModelSpec]:
    """The FP32 and INT8 variants as :class:`rsu_sdk.ModelSpec` (metadata = the JSON plus ``precision``)."""
    meta = load_metadata(folder)
    return [
        ModelSpec(name=FP32_NAME, path=folder / meta["files"]["fp32"], kind=MODEL_KIND,
                  metadata={**meta, "precision": "fp32"}),
        ModelSpec(name=INT8_NAME, path=folder / meta["files"]["int8"], kind=MODEL_KIND,
                  metadata={**meta, "precision": "int8"}),
    ]
