"""LiteRT (``ai-edge-litert``) backend for ``.tflite`` models, as on small ARM boxes (``pip install rsu[litert]``)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from rsu.inference.session import ModelError, TensorInfo

__all__ = ["LiteRtBackend", "litert_available"]


def litert_available() -> bool:
    try:
        import ai_edge_litert.interpreter  # noqa: F401
    except ImportError:
        return False
    return True


class LiteRtBackend:
    """Runs a ``.tflite`` model with the LiteRT interpreter (XNNPACK on CPU); NHWC input, batch of one."""

    def __init__(self, path: str | Path, threads: int | None = None) -> None:
        self.path = Path(path)
        if not self.path.is_file():
            raise ModelError(f"model file not found: {self.path}")
        try:
            from ai_edge_litert.interpreter import Interpreter
        except ImportError:
            raise ModelError(f"{self.path.name}: .tflite models need LiteRT: pip install 'rsu[litert]'") from None
        try:
            self.interpreter = Interpreter(model_path=str(self.path), num_threads=threads)
            self.interpreter.allocate_tensors()
        except (ValueError, RuntimeError) as exc:
            raise ModelError(f"cannot load model {self.path}: {exc}") from None
        inp = self.interpreter.get_input_details()
        if len(inp) != 1:
            raise ModelError(f"{self.path}: expected one image input, got {len(inp)}")
        self._in = inp[0]
        self._outs = self.interpreter.get_output_details()
        self.input = TensorInfo(self._in["name"], tuple(int(d) for d in self._in["shape"]))
        self.outputs = [TensorInfo(o["name"], tuple(int(d) for d in o["shape"])) for o in self._outs]
        self.metadata: dict[str, str] = {}
        self.providers = ["LiteRT"]

    @property
    def fixed_batch(self) -> int | None:
        return int(self.input.shape[0])

    def run(self, batch: np.ndarray) -> list[np.ndarray]:
        results: list[list[np.ndarray]] = []
        for image in batch:
            self.interpreter.set_tensor(self._in["index"], image[None].astype(self._in["dtype"], copy=False))
            self.interpreter.invoke()
            results.append([self.interpreter.get_tensor(o["index"]) for o in self._outs])
        return [np.concatenate([r[k] for r in results]) for k in range(len(self._outs))]
