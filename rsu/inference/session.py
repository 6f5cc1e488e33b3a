"""ONNX Runtime sessions: execution providers in the config's order of preference, with a logged fallback."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from rsu.config.models import PROVIDER_ALIASES
from rsu.core.errors import ModelError

__all__ = ["ModelError", "OrtBackend", "provider_name", "resolve_providers", "make_session"]

log = logging.getLogger(__name__)


def provider_name(name: str) -> str:
    """``cuda`` -> ``CUDAExecutionProvider``; full ONNX Runtime names pass through."""
    return PROVIDER_ALIASES.get(name.lower(), name)


def resolve_providers(preferred: Sequence[str], available: Sequence[str] | None = None) -> list[str]:
    """The preferred providers that are installed, in the preferred order, CPU always last.

    Every preferred provider that is missing is logged (warning), and so is the final choice.
    """
    if available is None:
        import onnxruntime as ort

        available = ort.get_available_providers()
    wanted = [provider_name(p) for p in preferred]
    chosen = [p for p in dict.fromkeys(wanted) if p in available]
    missing = [p for p in dict.fromkeys(wanted) if p not in available]
    if "CPUExecutionProvider" not in chosen and "CPUExecutionProvider" in available:
        chosen.append("CPUExecutionProvider")
    if missing:
        log.warning("execution providers not installed, skipped: %s; using %s", ", ".join(missing), ", ".join(chosen))
    else:
        log.info("execution providers: %s", ", ".join(chosen))
    return chosen


def make_session(path: str | Path, providers: Sequence[str], threads: int | None = None,
                 allow_spinning: bool = True, protection: Any = None) -> Any:
    """Open ``path`` with the first usable providers of ``providers`` (preference order).

    A sealed model (``rsu model seal``) is checked and decrypted in memory with the keys ``protection``
    (``models.protection``; None: the default environment variables) names."""
    import onnxruntime as ort

    from rsu.inference.seal import load_model

    path = Path(path)
    if not path.is_file():
        raise ModelError(f"model file not found: {path}")
    source = load_model(path, protection)
    opts = ort.SessionOptions()
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    if threads:
        opts.intra_op_num_threads = threads
    opts.add_session_config_entry("session.intra_op.allow_spinning", "1" if allow_spinning else "0")
    chosen = resolve_providers(providers)
    try:
        session = ort.InferenceSession(source, sess_options=opts, providers=chosen)
    except Exception as exc:  # onnxruntime raises its own exception types for bad files
        raise ModelError(f"cannot load model {path}: {str(exc).strip().splitlines()[0]}") from None
    used = session.get_providers()
    if used and used[0] != chosen[0]:
        log.warning("provider %s failed to initialise for %s; running on %s", chosen[0], path.name, used[0])
    return session


@dataclass(frozen=True, slots=True)
class TensorInfo:
    name: str
    shape: tuple[int | str | None, ...]


class OrtBackend:
    """Runs an ONNX model on ONNX Runtime; the detector's view of a model (shapes, metadata, run)."""

    def __init__(self, path: str | Path, providers: Sequence[str] = ("cpu",), threads: int | None = None,
                 allow_spinning: bool = True, protection: Any = None) -> None:
        self.path = Path(path)
        self.session = make_session(self.path, providers, threads, allow_spinning, protection)
        inputs = self.session.get_inputs()
        if len(inputs) != 1:
            raise ModelError(f"{self.path}: expected one image input, got {len(inputs)}")
        self.input = TensorInfo(inputs[0].name, tuple(inputs[0].shape))
        self.outputs = [TensorInfo(o.name, tuple(o.shape)) for o in self.session.get_outputs()]
        meta = self.session.get_modelmeta()
        self.metadata: dict[str, str] = dict(meta.custom_metadata_map or {})
        self.providers: list[str] = list(self.session.get_providers())

    @property
    def fixed_batch(self) -> int | None:
        """The model's batch size when it is fixed, else None."""
        b = self.input.shape[0] if self.input.shape else None
        return b if isinstance(b, int) and b > 0 else None

    def run(self, batch: np.ndarray) -> list[np.ndarray]:
        return list(self.session.run(None, {self.input.name: batch}))
