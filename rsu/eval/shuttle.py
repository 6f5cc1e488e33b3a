"""The fault-LSTM approach on a real public series: NASA shuttle sensors (``river`` ships them).

``river``'s ``shuttle.csv.gz`` (BSD-3-Clause): 49,097 rows of nine sensor readings, ``anomaly`` 1 for the
rare classes (about 7%). The rows come in file order; we treat them as one device's stream. The same
recipe as the furnace model: sliding windows of ``window`` rows, per-channel normalisation from the
training part, an LSTM (32 hidden) trained with :mod:`rsu.modeltools.fault_train`'s code, and the label of
the window's last row as target. Trained on the first ``train_fraction`` of the rows, scored on the rest
against a model-free baseline (largest |z| of the newest row). Needs the tools extra (torch) and ``river``.
"""

from __future__ import annotations

import csv
import gzip
import importlib.util
from pathlib import Path
from typing import Any

import numpy as np

from rsu.modeltools.fault_data import WindowSet, sample_batch

__all__ = ["shuttle_path", "load_shuttle", "evaluate", "roc_auc"]


def shuttle_path() -> Path:
    """``river/datasets/shuttle.csv.gz`` of the installed ``river`` (FileNotFoundError when absent)."""
    spec = importlib.util.find_spec("river")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError("the shuttle data ships in the 'river' package: pip install 'river==0.26.1'")
    path = Path(next(iter(spec.submodule_search_locations))) / "datasets" / "shuttle.csv.gz"
    if not path.is_file():
        raise FileNotFoundError(f"{path}: not found in the installed river package")
    return path


def load_shuttle(path: Path | None = None) -> tuple[np.ndarray, np.ndarray]:
    """``(x (n, 9) float64, y (n,) float32)`` in file order."""
    with gzip.open(path or shuttle_path(), "rt", encoding="utf-8") as fh:
        rows = list(csv.reader(fh))
    header, body = rows[0], rows[1:]
    if header[-1] != "anomaly":
        raise ValueError(f"unexpected shuttle header {header}")
    data = np.asarray(body, dtype=np.float64)
    return data[:, :-1], data[:, -1].astype(np.float32)


def roc_auc(score: np.ndarray, y: np.ndarray) -> float:
    """Area under the ROC curve (rank statistic, ties averaged)."""
    from scipy.stats import rankdata

    pos = y > 0.5
    n_pos, n_neg = int(pos.sum()), int((~pos).sum())
    if not n_pos or not n_neg:
        return float("nan")
    ranks = rankdata(score)
    return float((ranks[pos].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def _prf(score: np.ndarray, y: np.ndarray, threshold: float) -> dict[str, float]:
    hit = score >= threshold
    tp = float((hit & (y > 0.5)).sum())
    precision = tp / max(float(hit.sum()), 1.0)
    recall = tp / max(float((y > 0.5).sum()), 1.0)
    return {"precision": round(precision, 4), "recall": round(recall, 4),
            "f1": round(2 * precision * recall / max(precision + recall, 1e-12), 4)}


def evaluate(seed: int = 7, window: int = 8, train_fraction: float = 0.5, epochs: int = 10,
             steps_per_epoch: int = 100, path: Path | None = None) -> dict[str, Any]:
    """Train on the first part, score the rest; returns AUC, precision/recall/F1 at 0.5, and the baseline."""
    import torch

    from rsu.modeltools.fault_train import TrainSettings, _build_model, _fit

    x, y = load_shuttle(path)
    split = int(len(x) * train_fraction)
    mean, std = x[:split].mean(axis=0), np.maximum(x[:split].std(axis=0), 1e-6)
    z = ((x - mean) / std).astype(np.float32)
    ends_train = np.arange(window - 1, split)
    ends_test = np.arange(split + window - 1, len(x))
    torch.manual_seed(seed)
    torch.set_num_threads(2)
    torch.use_deterministic_algorithms(True)
    ws = WindowSet(series=[z], index=np.stack([np.zeros_like(ends_train), ends_train], axis=1),
                   target=y[ends_train], mean=mean, std=std, window=window)
    st = TrainSettings(seed=seed, epochs=epochs, steps_per_epoch=steps_per_epoch, positive_fraction=0.2)
    model = _build_model(torch, st.hidden, inputs=x.shape[1])
    _fit(torch, model, ws, st)
    test = WindowSet(series=[z], index=np.stack([np.zeros_like(ends_test), ends_test], axis=1),
                     target=y[ends_test], mean=mean, std=std, window=window)
    scores = []
    with torch.no_grad():
        for i in range(0, len(ends_test), 4096):
            xb, _ = sample_batch(test, np.arange(i, min(i + 4096, len(ends_test))))
            scores.append(torch.sigmoid(model(torch.from_numpy(xb))).numpy())
    score = np.concatenate(scores)
    y_test = y[ends_test]
    baseline = np.abs(z[ends_test]).max(axis=1)
    base_thr = float(np.quantile(np.abs(z[:split]).max(axis=1), 1.0 - float(y[:split].mean())))
    return {
        "dataset": "river shuttle.csv.gz (NASA shuttle, UCI Statlog via ODDS)",
        "rows": int(len(x)), "train_rows": split, "test_windows": int(len(ends_test)),
        "anomaly_rate_test": round(float(y_test.mean()), 4), "window": window, "seed": seed,
        "lstm": {"roc_auc": round(roc_auc(score, y_test), 4), **_prf(score, y_test, 0.5)},
        "zscore_baseline": {"roc_auc": round(roc_auc(baseline, y_test), 4), **_prf(baseline, y_test, base_thr)},
    }
