"""FedAvg (McMahan et al., 2017): the global weights are the sample-weighted mean of the boxes' weights."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

__all__ = ["fedavg"]


def fedavg(updates: Sequence[tuple[Mapping[str, np.ndarray], int]]) -> dict[str, np.ndarray]:
    """``sum_k n_k w_k / sum_k n_k`` per weight, in float64, returned as float32.

    :param updates: ``(weights, samples)`` per box; every box must send the same names and shapes.
    :raises ValueError: no updates, a non-positive sample count, or weights that do not match.
    """
    if not updates:
        raise ValueError("fedavg: no updates")
    names = sorted(updates[0][0])
    total = 0
    acc = {name: np.zeros(np.shape(updates[0][0][name]), dtype=np.float64) for name in names}
    for i, (weights, n) in enumerate(updates):
        if n <= 0:
            raise ValueError(f"fedavg: update {i} has {n} samples (must be > 0)")
        if sorted(weights) != names:
            raise ValueError(f"fedavg: update {i} has weights {sorted(weights)}, expected {names}")
        for name in names:
            w = np.asarray(weights[name], dtype=np.float64)
            if w.shape != acc[name].shape:
                raise ValueError(f"fedavg: update {i} weight {name!r} has shape {w.shape}, expected {acc[name].shape}")
            acc[name] += n * w
        total += n
    return {name: (a / total).astype(np.float32) for name, a in acc.items()}
