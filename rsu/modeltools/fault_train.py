"""Train the fault LSTM (10 inputs, 32 hidden, 1 output) on simulator data and export it.

Deterministic from ``seed`` (torch and numpy seeded, fixed thread count, deterministic algorithms).
Writes ``fault_lstm.onnx`` (FP32, opset 17, dynamic batch axis), ``fault_lstm_int8.onnx`` (static INT8 QDQ,
see :mod:`rsu.modeltools.fault_quant`) and ``fault_lstm.json`` (channel order, window, sample rate,
normalisation, seed and data settings, alarm thresholds, INT8-vs-FP32 check). Needs the ``tools`` extra.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from rsu.modeltools.fault_data import DataSettings, WindowSet, build_windows, sample_batch
from rsu.sim.furnace import CHANNELS, UNITS

__all__ = ["TrainSettings", "train_fault_model", "MODEL_NAME", "INPUT_NAME", "OUTPUT_NAME"]

log = logging.getLogger(__name__)

MODEL_NAME = "fault-lstm"
INPUT_NAME = "window"
OUTPUT_NAME = "fault_probability"
OPSET = 17


@dataclass(frozen=True, slots=True)
class TrainSettings:
    """Everything the trained weights depend on (with the data settings)."""

    seed: int = 7
    hidden: int = 32
    epochs: int = 25
    steps_per_epoch: int = 100
    batch_size: int = 256
    lr: float = 3e-3
    positive_fraction: float = 0.2
    threads: int = 2
    data: DataSettings = field(default_factory=DataSettings)
    thresholds: dict[str, float] = field(default_factory=lambda: {
        "raise_threshold": 0.98, "clear_threshold": 0.6, "min_duration_s": 30.0})

    def to_json(self) -> dict[str, Any]:
        d = asdict(self)
        d["data"] = self.data.to_json()
        del d["thresholds"]
        return d


def _require_torch() -> Any:
    try:
        import torch
    except ImportError as exc:  # pragma: no cover - depends on the extra
        raise RuntimeError("training the fault model needs torch: pip install 'rsu[tools]'") from exc
    return torch


def _build_model(torch: Any, hidden: int, inputs: int = len(CHANNELS)) -> Any:
    nn = torch.nn

    class FaultLSTM(nn.Module):
        """LSTM over the window; the last hidden state -> one logit (sigmoid applied when exported)."""

        def __init__(self) -> None:
            super().__init__()
            self.lstm = nn.LSTM(inputs, hidden, batch_first=True)
            self.head = nn.Linear(hidden, 1)
            self.export_probability = False

        def forward(self, x: Any) -> Any:
            _, (h, _) = self.lstm(x)
            logit = self.head(h[-1])
            return torch.sigmoid(logit) if self.export_probability else logit.squeeze(-1)

    return FaultLSTM()


def _fit(torch: Any, model: Any, ws: WindowSet, st: TrainSettings) -> list[float]:
    rng = np.random.default_rng(st.seed)
    pos = np.flatnonzero(ws.target > 0.5)
    neg = np.flatnonzero(ws.target <= 0.5)
    n_pos = int(round(st.batch_size * st.positive_fraction))
    opt = torch.optim.Adam(model.parameters(), lr=st.lr)
    total = st.epochs * st.steps_per_epoch
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=st.lr, total_steps=total)
    loss_fn = torch.nn.BCEWithLogitsLoss()
    losses: list[float] = []
    model.train()
    for epoch in range(st.epochs):
        running = 0.0
        for _ in range(st.steps_per_epoch):
            rows = np.concatenate([rng.choice(pos, n_pos), rng.choice(neg, st.batch_size - n_pos)])
            xb, yb = sample_batch(ws, rows)
            opt.zero_grad()
            loss = loss_fn(model(torch.from_numpy(xb)), torch.from_numpy(yb))
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            sched.step()
            running += float(loss.detach())
        losses.append(round(running / st.steps_per_epoch, 5))
        log.info("epoch %d/%d loss %.4f", epoch + 1, st.epochs, losses[-1])
    model.eval()
    return losses


def _export(torch: Any, model: Any, path: Path, window: int) -> None:
    import warnings

    model.export_probability = True
    dummy = torch.zeros(1, window, len(CHANNELS))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(model, (dummy,), str(path), input_names=[INPUT_NAME], output_names=[OUTPUT_NAME],
                          dynamic_axes={INPUT_NAME: {0: "batch"}, OUTPUT_NAME: {0: "batch"}},
                          opset_version=OPSET, dynamo=False)
    model.export_probability = False


def train_fault_model(out_dir: Path, settings: TrainSettings | None = None) -> dict[str, Any]:
    """Train, export FP32 and INT8 ONNX and the metadata JSON into ``out_dir``; return the metadata."""
    torch = _require_torch()
    from rsu.modeltools.fault_quant import compare, quantize_int8

    st = settings or TrainSettings()
    out_dir.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    torch.manual_seed(st.seed)
    torch.set_num_threads(st.threads)
    torch.use_deterministic_algorithms(True)
    ws = build_windows(st.data)
    model = _build_model(torch, st.hidden)
    losses = _fit(torch, model, ws, st)
    fp32 = out_dir / "fault_lstm.onnx"
    int8 = out_dir / "fault_lstm_int8.onnx"
    _export(torch, model, fp32, ws.window)
    rng = np.random.default_rng(st.seed + 1)
    calib, _ = sample_batch(ws, rng.choice(ws.index.shape[0], min(512, ws.index.shape[0]), replace=False))
    quantized_ops = quantize_int8(fp32, int8, calib, INPUT_NAME)
    check_rows = rng.choice(ws.index.shape[0], min(2048, ws.index.shape[0]), replace=False)
    check_x, check_y = sample_batch(ws, check_rows)
    meta: dict[str, Any] = {
        "name": MODEL_NAME,
        "kind": "fault-predictor",
        "files": {"fp32": fp32.name, "int8": int8.name},
        "input": INPUT_NAME,
        "output": OUTPUT_NAME,
        "channels": list(CHANNELS),
        "units": {c: UNITS[c] for c in CHANNELS},
        "window": ws.window,
        "rate_hz": st.data.rate_hz,
        "baseline_tau_s": st.data.baseline_tau_s,
        "mean": [round(float(v), 6) for v in ws.mean],
        "std": [round(float(v), 6) for v in ws.std],
        **st.thresholds,
        "training": {**st.to_json(), "loss_per_epoch": losses, "opset": OPSET,
                     "torch": torch.__version__, "seconds": round(time.perf_counter() - t0, 1)},
        "int8_vs_fp32": {**compare(fp32, int8, check_x, check_y, INPUT_NAME), "quantized_ops": quantized_ops},
    }
    # keep the exact statistics the model was trained with (the rounded ones are for reading)
    meta["mean"], meta["std"] = [float(v) for v in ws.mean], [float(v) for v in ws.std]
    (out_dir / "fault_lstm.json").write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
    return meta
