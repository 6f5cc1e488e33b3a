"""Training the fault LSTM (tools extra): a tiny run exports FP32 + INT8 ONNX and metadata, reproducibly."""

from __future__ import annotations

import json

import numpy as np
import pytest

pytest.importorskip("torch")
onnx = pytest.importorskip("onnx")

from rsu.modeltools.fault_data import DataSettings  # noqa: E402
from rsu.modeltools.fault_train import TrainSettings, train_fault_model  # noqa: E402

pytestmark = pytest.mark.tools

TINY = TrainSettings(epochs=1, steps_per_epoch=3, batch_size=32,
                     data=DataSettings(data_seeds=(5,), seconds=1800.0, devices=1, fault_gap_s=300.0, window=20))


def test_tiny_training_exports_a_usable_model(tmp_path):
    meta = train_fault_model(tmp_path / "a", TINY)
    fp32, int8 = tmp_path / "a" / "fault_lstm.onnx", tmp_path / "a" / "fault_lstm_int8.onnx"
    saved = json.loads((tmp_path / "a" / "fault_lstm.json").read_text())
    assert saved["window"] == 20 and len(saved["mean"]) == 10 and saved["training"]["data"]["data_seeds"] == [5]
    model = onnx.load(str(fp32))
    assert "LSTM" in {n.op_type for n in model.graph.node}
    assert model.opset_import[0].version >= 17
    assert model.graph.input[0].type.tensor_type.shape.dim[0].dim_param == "batch"  # dynamic batch axis
    lstm = next(n for n in model.graph.node if n.op_type == "LSTM")
    assert next(a.i for a in lstm.attribute if a.name == "hidden_size") == 32
    assert "QuantizeLinear" in {n.op_type for n in onnx.load(str(int8)).graph.node}
    check = meta["int8_vs_fp32"]
    assert check["max_abs_diff"] < 0.1 and "Gemm" in check["quantized_ops"]

    import onnxruntime as ort

    sess = ort.InferenceSession(str(fp32), providers=["CPUExecutionProvider"])
    out = sess.run(None, {"window": np.zeros((3, 20, 10), np.float32)})[0]
    assert out.shape == (3, 1) and ((out >= 0) & (out <= 1)).all()

    # same seed and data, same weights
    train_fault_model(tmp_path / "b", TINY)
    assert fp32.read_bytes() == (tmp_path / "b" / "fault_lstm.onnx").read_bytes()
