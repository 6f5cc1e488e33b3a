"""Robust aggregation: one lying box must not decide the global model.

- ``fedavg``: the sample-weighted mean (McMahan et al., 2017); one box far off moves it arbitrarily far.
- ``trimmed_mean``: per coordinate, drop the ``k`` lowest and ``k`` highest values, then the sample-weighted
  mean of the rest (Yin et al., 2018); ``k = ceil(trim * n)``, at most ``(n - 1) // 2`` (3 boxes: the median).
- ``median``: the coordinate-wise median (unweighted).

:func:`relative_distance` is the bound on an update: ``||w - g|| / ||g||`` over all weights together.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np

from rsu.federated.fedavg import fedavg

__all__ = ["AGGREGATES", "aggregate", "trimmed_count", "relative_distance"]

AGGREGATES = ("fedavg", "trimmed_mean", "median")


def trimmed_count(n: int, trim: float) -> int:
    """Values dropped at each end of ``n`` for ``trim`` (0 <= trim < 0.5); leaves at least one."""
    return min(math.ceil(trim * n - 1e-9), (n - 1) // 2) if n > 0 and trim > 0 else 0


def _stack(updates: Sequence[tuple[Mapping[str, np.ndarray], int]], name: str) -> np.ndarray:
    try:
        return np.stack([np.asarray(w[name], dtype=np.float64) for w, _ in updates])
    except (KeyError, ValueError) as exc:
        raise ValueError(f"aggregate: weight {name!r} missing or of different shapes ({exc})") from None


def aggregate(updates: Sequence[tuple[Mapping[str, np.ndarray], int]], method: str = "trimmed_mean",
              trim: float = 0.2) -> dict[str, np.ndarray]:
    """The global weights from ``(weights, samples)`` per box (same names and shapes), float32.

    :raises ValueError: an unknown method, no updates, non-positive samples or mismatched weights.
    """
    if method not in AGGREGATES:
        raise ValueError(f"aggregate: expected one of {AGGREGATES}, got {method!r}")
    if not 0 <= trim < 0.5:
        raise ValueError(f"aggregate: trim must be in [0, 0.5), got {trim}")
    k = trimmed_count(len(updates), trim)
    if method == "fedavg" or (method == "trimmed_mean" and k == 0):
        return fedavg(updates)
    if any(n <= 0 for _, n in updates):
        raise ValueError("aggregate: every update needs samples > 0")
    names = sorted(updates[0][0])
    out: dict[str, np.ndarray] = {}
    for name in names:
        stack = _stack(updates, name)
        if method == "median":
            out[name] = np.median(stack, axis=0).astype(np.float32)
            continue
        order = np.argsort(stack, axis=0, kind="stable")
        kept = np.take_along_axis(stack, order, axis=0)[k:len(updates) - k]
        samples = np.array([n for _, n in updates], dtype=np.float64).reshape((-1,) + (1,) * (stack.ndim - 1))
        weights = np.take_along_axis(np.broadcast_to(samples, stack.shape), order, axis=0)[k:len(updates) - k]
        out[name] = ((kept * weights).sum(axis=0) / weights.sum(axis=0)).astype(np.float32)
    return out


def relative_distance(weights: Mapping[str, np.ndarray], reference: Mapping[str, np.ndarray]) -> float:
    """``||weights - reference||_2 / ||reference||_2`` over every weight of ``reference`` (inf when they differ
    in names or shapes)."""
    diff = ref = 0.0
    for name, r in reference.items():
        w = weights.get(name)
        if w is None or np.shape(w) != np.shape(r):
            return math.inf
        r64 = np.asarray(r, dtype=np.float64)
        diff += float(np.square(np.asarray(w, dtype=np.float64) - r64).sum())
        ref += float(np.square(r64).sum())
    return math.sqrt(diff) / max(math.sqrt(ref), 1e-12)
