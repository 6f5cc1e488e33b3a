"""What boxes and the aggregator exchange: weight updates (never data) and versioned global models.

Both are plain frozen dataclasses with ``source`` and ``t_event_ns``, so the pipeline runners route them like
any product. On the wire (:func:`encode_weights` / :func:`decode_weights`) weights travel as an ``.npz``
archive loaded with ``allow_pickle=False``: a box can send numbers, never code.
"""

from __future__ import annotations

import io
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from rsu.federated.npz import NpzError, NpzLimits, read_npz

__all__ = ["ModelUpdate", "GlobalModel", "encode_weights", "decode_weights", "MessageError", "int_field"]

MAX_VERSION = 2**62
MAX_ID_CHARS = 64


class MessageError(ValueError):
    """An update or model message that cannot be used; the message names the field. ``reason`` is the
    short name the aggregator counts it under (``rejected_<reason>``)."""

    def __init__(self, message: str, reason: str = "invalid") -> None:
        super().__init__(message)
        self.reason = reason


def _show(value: Any) -> str:
    try:
        text = repr(value)
    except ValueError:  # an int too long for str()
        text = f"<{type(value).__name__}>"
    return text if len(text) <= 40 else text[:37] + "..."


def int_field(value: Any, what: str, low: int, high: int, reason: str = "invalid") -> int:
    """``value`` if it is an integer (not a bool, float or string) within ``low..high``, else MessageError."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise MessageError(f"{what} must be an integer, got {type(value).__name__} {_show(value)}", reason)
    if not low <= int(value) <= high:
        raise MessageError(f"{what} {_show(int(value))} is out of range {low}..{high}", reason)
    return int(value)


@dataclass(frozen=True, slots=True, kw_only=True)
class ModelUpdate:
    """One box's locally fine-tuned weights for ``model``, trained from global version ``base_version``.

    :param source: the box id. :param samples: training windows behind the weights (the FedAvg weight).
    :param metrics: what the box reports about its own training (loss, local scores); not used to aggregate.
    """

    source: str
    t_event_ns: int
    model: str
    base_version: int
    samples: int
    weights: Mapping[str, np.ndarray]
    metrics: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for what, text in (("source", self.source), ("model", self.model)):
            if not isinstance(text, str) or not 0 < len(text) <= MAX_ID_CHARS or not text.isprintable():
                raise MessageError(f"update: {what!r} must be 1-{MAX_ID_CHARS} printable characters, "
                                   f"got {_show(text)}", "bad_field")
        int_field(self.samples, f"update from {self.source}: samples", 1, 2**62, "bad_field")
        int_field(self.base_version, f"update from {self.source}: base_version", 0, MAX_VERSION, "bad_field")
        for name, arr in self.weights.items():
            a = np.asarray(arr)
            if a.dtype.kind != "f" or not np.isfinite(a).all():
                raise MessageError(f"update from {self.source}: weight {name!r} must be finite floats", "not_finite")


@dataclass(frozen=True, slots=True, kw_only=True)
class GlobalModel:
    """A new global version of ``model``: the FedAvg of ``contributors``' updates (``samples`` in all)."""

    source: str
    t_event_ns: int
    model: str
    version: int
    weights: Mapping[str, np.ndarray]
    contributors: tuple[str, ...] = ()
    samples: int = 0


def encode_weights(weights: Mapping[str, np.ndarray]) -> bytes:
    buf = io.BytesIO()
    np.savez(buf, **{k: np.asarray(v, dtype=np.float32) for k, v in weights.items()})
    return buf.getvalue()


def decode_weights(data: bytes, expected: Mapping[str, tuple[int, ...]] | None = None,
                   limits: NpzLimits = NpzLimits()) -> dict[str, np.ndarray]:
    """Weights from :func:`encode_weights` bytes (float32 by name); raises :class:`MessageError` for anything
    else. Sizes, names and ``expected`` shapes are checked from the archive's headers before decompressing
    (:func:`rsu.federated.npz.read_npz`)."""
    try:
        return read_npz(data, limits, expected)
    except NpzError as exc:
        raise MessageError(f"weights: {exc}", "weights") from None
