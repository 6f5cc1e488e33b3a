"""Static INT8 (QDQ) variant of the fault LSTM and its check against FP32 (onnxruntime.quantization)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["quantize_int8", "compare"]


class _Windows:
    """Calibration reader: one window per call (static quantisation observes activation ranges)."""

    def __init__(self, windows: np.ndarray, input_name: str) -> None:
        self._items = iter([{input_name: w[None]} for w in windows])

    def get_next(self) -> dict[str, np.ndarray] | None:
        return next(self._items, None)


def quantize_int8(fp32: Path, int8: Path, calibration: np.ndarray, input_name: str) -> list[str]:
    """Write a static INT8 QDQ model; returns the op types that got quantized.

    onnxruntime's QDQ quantizer has no rule for the ``LSTM`` operator, so the recurrence stays FP32 and the
    quantized part is the output head (``Gemm``); the report says so through the returned op types.
    """
    import onnx
    from onnxruntime.quantization import CalibrationMethod, QuantFormat, QuantType, quantize_static
    from onnxruntime.quantization.shape_inference import quant_pre_process

    pre = int8.with_suffix(".pre.onnx")
    try:
        quant_pre_process(str(fp32), str(pre), skip_symbolic_shape=True)
        quantize_static(str(pre), str(int8), _Windows(calibration, input_name), quant_format=QuantFormat.QDQ,
                        activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8, per_channel=False,
                        calibrate_method=CalibrationMethod.MinMax)
    finally:
        pre.unlink(missing_ok=True)
    model = onnx.load(str(int8))
    consumers = {n.output[0]: n for n in model.graph.node if n.op_type == "DequantizeLinear"}
    quantized = sorted({n.op_type for n in model.graph.node if n.op_type not in ("QuantizeLinear", "DequantizeLinear")
                        and any(i in consumers for i in n.input)})
    return quantized


def compare(fp32: Path, int8: Path, x: np.ndarray, y: np.ndarray, input_name: str) -> dict[str, Any]:
    """Run both models on ``x``; report the score differences and how often the 0.5 decision differs."""
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    outs = []
    for path in (fp32, int8):
        sess = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
        outs.append(np.concatenate([sess.run(None, {input_name: x[i:i + 256]})[0].reshape(-1)
                                    for i in range(0, len(x), 256)]))
    a, b = outs
    diff = np.abs(a - b)
    return {
        "windows": int(len(x)),
        "max_abs_diff": round(float(diff.max()), 6),
        "mean_abs_diff": round(float(diff.mean()), 6),
        "decision_agreement": round(float(np.mean((a >= 0.5) == (b >= 0.5))), 5),
        "fp32_accuracy": round(float(np.mean((a >= 0.5) == (y > 0.5))), 5),
        "int8_accuracy": round(float(np.mean((b >= 0.5) == (y > 0.5))), 5),
        "fp32_bytes": fp32.stat().st_size,
        "int8_bytes": int8.stat().st_size,
    }
