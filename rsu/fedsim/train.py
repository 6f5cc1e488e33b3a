"""Fine-tune the fault LSTM on a box's own windows, starting from the global weights (the ``tools`` extra).

Deterministic from ``seed``; positives are over-sampled to ``positive_fraction`` of each batch (faults are
rare). The weights go in and out as canonical ONNX weights (:mod:`rsu.federated.weights`), so what a box sends
is exactly what the aggregator averages and writes into the ONNX model.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from rsu.federated.weights import Weights, from_torch_lstm, to_torch_lstm
from rsu.modeltools.fault_data import WindowSet, sample_batch

__all__ = ["FineTune", "fine_tune"]


@dataclass(frozen=True, slots=True)
class FineTune:
    steps: int = 30
    batch_size: int = 128
    lr: float = 3e-3
    positive_fraction: float = 0.3
    seed: int = 0
    threads: int = 1


def fine_tune(weights: Mapping[str, np.ndarray], data: WindowSet, settings: FineTune = FineTune()
              ) -> tuple[Weights, dict[str, Any]]:
    """``(new weights, metrics)`` after ``settings.steps`` Adam steps on ``data`` from ``weights``."""
    try:
        import torch
    except ImportError as exc:  # pragma: no cover - depends on the extra
        raise RuntimeError("fine-tuning needs torch: pip install 'rsu[tools]'") from exc
    from rsu.modeltools.fault_train import _build_model  # the one definition of the architecture

    pos = np.flatnonzero(data.target > 0.5)
    neg = np.flatnonzero(data.target <= 0.5)
    if pos.size == 0 or neg.size == 0:
        raise ValueError(f"local data needs fault and normal windows, got {pos.size} and {neg.size}")
    torch.manual_seed(settings.seed)
    torch.set_num_threads(settings.threads)
    hidden = int(np.asarray(weights["lstm.R"]).shape[-1])
    model = _build_model(torch, hidden)
    model.load_state_dict({k: torch.from_numpy(np.ascontiguousarray(v)) for k, v in to_torch_lstm(weights).items()})
    opt = torch.optim.Adam(model.parameters(), lr=settings.lr)
    loss_fn = torch.nn.BCEWithLogitsLoss()
    rng = np.random.default_rng(settings.seed)
    n_pos = int(round(settings.batch_size * settings.positive_fraction))
    losses = []
    model.train()
    for _ in range(settings.steps):
        rows = np.concatenate([rng.choice(pos, n_pos), rng.choice(neg, settings.batch_size - n_pos)])
        xb, yb = sample_batch(data, rows)
        opt.zero_grad()
        loss = loss_fn(model(torch.from_numpy(xb)), torch.from_numpy(yb))
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        losses.append(float(loss.detach()))
    model.eval()
    metrics = {"steps": settings.steps, "loss_first": round(losses[0], 5), "loss_last": round(losses[-1], 5),
               "windows": int(data.target.size), "fault_windows": int(pos.size)}
    return from_torch_lstm(model.state_dict()), metrics
