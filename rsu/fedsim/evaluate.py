"""Score fault-model weights on labelled windows with ONNX Runtime (the model the box would really run)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import numpy as np
from scipy.stats import rankdata

from rsu.federated.weights import write_weights
from rsu.modeltools.fault_data import WindowSet, sample_batch

__all__ = ["roc_auc", "score_weights", "eval_rows"]


def roc_auc(scores: np.ndarray, labels: np.ndarray) -> float:
    """Area under the ROC curve (Mann-Whitney U, ties averaged)."""
    pos = labels > 0.5
    n1, n0 = int(pos.sum()), int((~pos).sum())
    if n1 == 0 or n0 == 0:
        raise ValueError("roc_auc needs both classes")
    ranks = rankdata(scores)
    return float((ranks[pos].sum() - n1 * (n1 + 1) / 2) / (n1 * n0))


def eval_rows(data: WindowSet, n: int, seed: int = 0) -> np.ndarray:
    """``n`` window rows of ``data`` drawn without replacement (fixed by ``seed``)."""
    rng = np.random.default_rng(seed)
    return np.sort(rng.choice(data.index.shape[0], min(n, data.index.shape[0]), replace=False))


def score_weights(template: str | Path | bytes, weights: Mapping[str, np.ndarray], data: WindowSet,
                  rows: np.ndarray, threshold: float = 0.5) -> dict[str, float]:
    """``auc``, ``accuracy`` and ``recall`` at ``threshold`` of ``weights`` (written into ``template``)."""
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    session = ort.InferenceSession(write_weights(template, weights), opts, providers=["CPUExecutionProvider"])
    name = session.get_inputs()[0].name
    x, y = sample_batch(data, rows)
    p = np.concatenate([session.run(None, {name: x[i:i + 512]})[0].reshape(-1) for i in range(0, len(x), 512)])
    hit = p >= threshold
    pos = y > 0.5
    return {"auc": round(roc_auc(p, y), 4), "accuracy": round(float((hit == pos).mean()), 4),
            "recall": round(float(hit[pos].mean()), 4)}
