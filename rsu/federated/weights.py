"""Model weights as named numpy arrays, read from and written into ONNX files (numpy + onnx only).

Names are the ONNX initializers' own, except an LSTM node's weight inputs, which the exporter names
arbitrarily (``onnx::LSTM_107``): those become ``lstm.W``, ``lstm.R``, ``lstm.B`` (``lstm<k>.*`` for the k-th
LSTM when there are several). :func:`from_torch_lstm` / :func:`to_torch_lstm` convert between these and the
fault LSTM's torch ``state_dict`` (gate order i,f,g,o in torch; i,o,f,c in ONNX).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["Weights", "read_weights", "write_weights", "weights_digest", "from_torch_lstm", "to_torch_lstm"]

Weights = dict[str, np.ndarray]
_ROLES = ("W", "R", "B")
_TORCH_TO_ONNX_GATES = (0, 3, 1, 2)  # torch blocks i,f,g,o -> ONNX order i,o,f,c


def _load(model: str | Path | bytes) -> Any:
    import onnx

    return onnx.load_from_string(model) if isinstance(model, bytes) else onnx.load(str(model))


def _canonical_names(graph: Any) -> dict[str, str]:
    lstms = [n for n in graph.node if n.op_type == "LSTM"]
    names: dict[str, str] = {}
    for k, node in enumerate(lstms):
        prefix = "lstm" if len(lstms) == 1 else f"lstm{k}"
        for role, inp in zip(_ROLES, list(node.input)[1:4]):
            if inp:
                names[inp] = f"{prefix}.{role}"
    return names


def read_weights(model: str | Path | bytes) -> Weights:
    """Every float initializer of ``model`` (a path or ONNX bytes) under its canonical name."""
    from onnx import numpy_helper

    m = _load(model)
    names = _canonical_names(m.graph)
    out: Weights = {}
    for init in m.graph.initializer:
        arr = numpy_helper.to_array(init)
        if arr.dtype.kind == "f":
            out[names.get(init.name, init.name)] = np.array(arr, dtype=np.float32)
    return out


def write_weights(template: str | Path | bytes, weights: Mapping[str, np.ndarray]) -> bytes:
    """``template`` with its float initializers replaced by ``weights`` (every one of them, same shapes);
    returns the ONNX bytes. Raises ValueError naming a missing, unknown or mis-shaped weight."""
    from onnx import numpy_helper

    m = _load(template)
    names = _canonical_names(m.graph)
    seen: set[str] = set()
    for i, init in enumerate(m.graph.initializer):
        old = numpy_helper.to_array(init)
        if old.dtype.kind != "f":
            continue
        name = names.get(init.name, init.name)
        if name not in weights:
            raise ValueError(f"weights lack {name!r} (the model has {list(read_weights(template))})")
        new = np.asarray(weights[name], dtype=old.dtype)
        if new.shape != old.shape:
            raise ValueError(f"weight {name!r}: expected shape {old.shape}, got {new.shape}")
        m.graph.initializer[i].CopyFrom(numpy_helper.from_array(new, init.name))
        seen.add(name)
    extra = sorted(set(weights) - seen)
    if extra:
        raise ValueError(f"weights not in the model: {extra}")
    return m.SerializeToString()


def weights_digest(weights: Mapping[str, np.ndarray]) -> str:
    """SHA-256 over the names, shapes and float32 bytes (sorted by name): equal digests, equal weights."""
    h = hashlib.sha256()
    for name in sorted(weights):
        a = np.ascontiguousarray(weights[name], dtype=np.float32)
        h.update(f"{name}{a.shape}".encode())
        h.update(a.tobytes())
    return h.hexdigest()


def _gates(a: np.ndarray, order: tuple[int, ...]) -> np.ndarray:
    blocks = np.split(a, 4, axis=0)
    return np.concatenate([blocks[i] for i in order], axis=0)


def from_torch_lstm(state: Mapping[str, Any]) -> Weights:
    """The fault LSTM's torch ``state_dict`` (one layer, ``lstm.*`` and ``head.*``) -> canonical ONNX weights."""
    sd = {k: np.asarray(v.detach().cpu().numpy() if hasattr(v, "detach") else v, dtype=np.float32)
          for k, v in state.items()}
    o = _TORCH_TO_ONNX_GATES
    return {
        "lstm.W": _gates(sd["lstm.weight_ih_l0"], o)[None],
        "lstm.R": _gates(sd["lstm.weight_hh_l0"], o)[None],
        "lstm.B": np.concatenate([_gates(sd["lstm.bias_ih_l0"], o), _gates(sd["lstm.bias_hh_l0"], o)])[None],
        "head.weight": sd["head.weight"], "head.bias": sd["head.bias"],
    }


def to_torch_lstm(weights: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Canonical ONNX weights -> the fault LSTM's ``state_dict`` arrays (wrap with ``torch.from_numpy``)."""
    back = tuple(_TORCH_TO_ONNX_GATES.index(i) for i in range(4))  # ONNX i,o,f,c -> torch i,f,g,o
    b = np.asarray(weights["lstm.B"])[0]
    half = b.shape[0] // 2
    return {
        "lstm.weight_ih_l0": _gates(np.asarray(weights["lstm.W"])[0], back),
        "lstm.weight_hh_l0": _gates(np.asarray(weights["lstm.R"])[0], back),
        "lstm.bias_ih_l0": _gates(b[:half], back), "lstm.bias_hh_l0": _gates(b[half:], back),
        "head.weight": np.asarray(weights["head.weight"]), "head.bias": np.asarray(weights["head.bias"]),
    }
