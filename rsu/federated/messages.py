"""What boxes and the aggregator exchange: weight updates (never data) and versioned global models.

Both are plain frozen dataclasses with ``source`` and ``t_event_ns``, so the pipeline runners route them like
any product. On the wire (:func:`encode_weights` / :func:`decode_weights`) weights travel as an ``.npz``
archive loaded with ``allow_pickle=False``: a box can send numbers, never code.
"""

from __future__ import annotations

import io
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

__all__ = ["ModelUpdate", "GlobalModel", "encode_weights", "decode_weights", "MessageError"]

_MAX_ARRAYS = 256
_MAX_BYTES = 64 * 1024 * 1024


class MessageError(ValueError):
    """An update or model message that cannot be used; the message names the field."""


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
        if not self.source or not self.model:
            raise MessageError("update: 'source' (box id) and 'model' must be non-empty")
        if int(self.samples) <= 0:
            raise MessageError(f"update from {self.source}: samples must be > 0, got {self.samples}")
        if int(self.base_version) < 0:
            raise MessageError(f"update from {self.source}: base_version must be >= 0, got {self.base_version}")
        for name, arr in self.weights.items():
            a = np.asarray(arr)
            if a.dtype.kind != "f" or not np.isfinite(a).all():
                raise MessageError(f"update from {self.source}: weight {name!r} must be finite floats")


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


def decode_weights(data: bytes) -> dict[str, np.ndarray]:
    """Weights from :func:`encode_weights` bytes; raises :class:`MessageError` for anything else."""
    if len(data) > _MAX_BYTES:
        raise MessageError(f"weights: {len(data)} bytes is over the {_MAX_BYTES} limit")
    try:
        with np.load(io.BytesIO(data), allow_pickle=False) as npz:
            if len(npz.files) > _MAX_ARRAYS:
                raise MessageError(f"weights: {len(npz.files)} arrays is over the {_MAX_ARRAYS} limit")
            return {name: np.array(npz[name], dtype=np.float32) for name in npz.files}
    except MessageError:
        raise
    except (ValueError, OSError, zipfile.BadZipFile, EOFError) as exc:
        raise MessageError(f"weights: not an .npz of arrays ({type(exc).__name__}: {exc})") from None
