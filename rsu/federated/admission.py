"""What an update must satisfy before it enters the aggregation, checked cheapest first.

1. the header: the model is the store's; ``box`` is a short printable id; ``base_version`` is an integer the
   store has made (``1e400`` or ``"7"`` is a rejection, never an ``OverflowError``); ``samples`` is an integer in
   ``1..max_samples`` (a box claiming 10^12 windows is refused, not obeyed);
2. the weights' archive, from its headers, before anything is decompressed: size, names and the template's
   shapes (:func:`rsu.federated.npz.read_npz`);
3. the values: finite, and within ``max_distance`` of the current global model (``||w - g|| / ||g||``).

Each refusal is a :class:`~rsu.federated.messages.MessageError` with the ``reason`` the server counts.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from rsu.federated.messages import MAX_ID_CHARS, MessageError, ModelUpdate, decode_weights, int_field
from rsu.federated.npz import NpzLimits
from rsu.federated.robust import relative_distance

__all__ = ["AdmissionPolicy", "admit"]


@dataclass(frozen=True, slots=True, kw_only=True)
class AdmissionPolicy:
    """The aggregator's limits (``federated.aggregator`` in the config)."""

    aggregate: str = "trimmed_mean"
    trim: float = 0.2
    max_samples: int = 10_000_000
    max_distance: float | None = 1.0
    max_update_bytes: int = 8 * 1024 * 1024

    def limits(self, template: Mapping[str, np.ndarray]) -> NpzLimits:
        elements = sum(int(np.size(v)) for v in template.values())
        return NpzLimits(max_bytes=self.max_update_bytes, max_arrays=len(template), max_elements=elements)


def admit(doc: dict[str, Any], body: list[bytes], *, model: str, latest: int,
          current: Mapping[str, np.ndarray], policy: AdmissionPolicy, box: str | None = None) -> tuple[ModelUpdate, float]:
    """``(update, its relative distance from current)`` of request ``doc`` + ``body`` if it passes every
    check, else MessageError.

    :param current: the current global weights (names and shapes are the template's).
    :param box: the authenticated identity (the CURVE key's name); it replaces the box id the client claims.
    """
    if doc.get("model") != model:
        raise MessageError(f"model {str(doc.get('model'))[:64]!r} is not aggregated here (this is {model!r})",
                           "wrong_model")
    claimed = doc.get("box")
    if not isinstance(claimed, str) or not 0 < len(claimed) <= MAX_ID_CHARS or not claimed.isprintable():
        raise MessageError(f"update: 'box' must be 1-{MAX_ID_CHARS} printable characters", "bad_field")
    base = int_field(doc.get("base_version"), "base_version", 0, latest, "bad_version")
    samples = int_field(doc.get("samples"), "samples", 1, policy.max_samples, "too_many_samples")
    metrics = doc.get("metrics") or {}
    if not isinstance(metrics, dict) or len(metrics) > 64:
        raise MessageError("update: 'metrics' must be a JSON object of at most 64 entries", "bad_field")
    if len(body) != 1:
        raise MessageError(f"update: expected one weights frame, got {len(body)}", "bad_field")
    expected = {k: tuple(np.shape(v)) for k, v in current.items()}
    weights = decode_weights(body[0], expected, policy.limits(current))
    update = ModelUpdate(source=box or claimed, t_event_ns=time.time_ns(), model=model, base_version=base,
                         samples=samples, weights=weights, metrics=metrics)
    distance = relative_distance(weights, current)
    if policy.max_distance is not None and not distance <= policy.max_distance:
        raise MessageError(f"update is {distance:.3g} (relative L2) from the current model, over max_distance "
                           f"{policy.max_distance}", "too_far")
    return update, distance
