"""``rsu model info``: parameters, FLOPs, size, opset, inputs and outputs of an ONNX model (no torch needed)
or of an ultralytics ``.pt`` (needs the tools extra)."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np

from rsu.modeltools.env import torch_threads

# Initializers at these input positions are shapes, indices or quantization parameters, not weights.
_NON_WEIGHT_INPUTS: dict[str, set[int]] = {
    "QuantizeLinear": {1, 2}, "DequantizeLinear": {1, 2}, "Reshape": {1}, "Resize": {1, 2, 3},
    "Slice": {1, 2, 3, 4}, "Expand": {1}, "Tile": {1}, "Split": {1}, "Squeeze": {1}, "Unsqueeze": {1},
    "Pad": {1, 2, 3}, "TopK": {1}, "ConstantOfShape": {0}, "Gather": {1}, "ReduceMean": {1}, "ReduceSum": {1},
    "QLinearConv": {1, 2, 4, 5, 6, 7}, "ConvInteger": {2, 3},
}
_CONV_OPS = {"Conv", "ConvInteger", "QLinearConv", "ConvTranspose"}


def _dims(vi: Any) -> list[int | str]:
    return [d.dim_value if d.HasField("dim_value") else (d.dim_param or "?") for d in vi.type.tensor_type.shape.dim]


def _dtype(vi: Any) -> str:
    import onnx

    return onnx.helper.tensor_dtype_to_np_dtype(vi.type.tensor_type.elem_type).name


def _count_params(graph: Any) -> int:
    """Elements of the initializers used as weights (BatchNorm is folded in exported graphs)."""
    weight: set[str] = set()
    for node in graph.node:
        skip = _NON_WEIGHT_INPUTS.get(node.op_type, set())
        weight.update(name for i, name in enumerate(node.input) if i not in skip)
    return sum(int(np.prod(init.dims)) if init.dims else 1 for init in graph.initializer if init.name in weight)


def _flops(model: Any) -> int:
    """Multiply-adds x 2 of the convolutions and matrix products, from inferred shapes."""
    import onnx

    inferred = onnx.shape_inference.infer_shapes(model)
    shapes: dict[str, list[int]] = {}
    for vi in [*inferred.graph.value_info, *inferred.graph.input, *inferred.graph.output]:
        dims = [d.dim_value if d.HasField("dim_value") else 1 for d in vi.type.tensor_type.shape.dim]
        shapes[vi.name] = dims
    for init in inferred.graph.initializer:
        shapes[init.name] = list(init.dims)
    flops = 0
    for node in inferred.graph.node:
        if node.op_type in _CONV_OPS:
            w = shapes.get(node.input[3] if node.op_type == "QLinearConv" else node.input[1])
            out = shapes.get(node.output[0])
            if w and out:
                flops += 2 * int(np.prod(out)) * int(np.prod(w[1:]))
        elif node.op_type in {"MatMul", "Gemm", "MatMulInteger"}:
            a, out = shapes.get(node.input[0]), shapes.get(node.output[0])
            if a and out:
                trans_a = node.op_type == "Gemm" and any(at.name == "transA" and at.i for at in node.attribute)
                k = a[0] if trans_a else a[-1]
                flops += 2 * int(np.prod(out)) * int(k)
    return flops


def onnx_info(path: str | Path) -> dict[str, Any]:
    """Facts about an ONNX file, read with ``onnx`` only."""
    import onnx

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"model file not found: {path}")
    try:
        model = onnx.load(str(path))
    except Exception as exc:  # onnx raises DecodeError and friends
        raise ValueError(f"{path}: not a readable ONNX model ({exc})") from None
    g = model.graph
    ops = Counter(n.op_type for n in g.node)
    initializer_names = {i.name for i in g.initializer}
    info: dict[str, Any] = {
        "path": str(path),
        "format": "onnx",
        "size_bytes": path.stat().st_size,
        "size_mb": round(path.stat().st_size / 2**20, 2),
        "opset": next((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), None),
        "ir_version": model.ir_version,
        "producer": f"{model.producer_name} {model.producer_version}".strip(),
        "params": _count_params(g),
        "gflops": round(_flops(model) / 1e9, 3),
        "inputs": [{"name": i.name, "shape": _dims(i), "dtype": _dtype(i)} for i in g.input
                   if i.name not in initializer_names],
        "outputs": [{"name": o.name, "shape": _dims(o), "dtype": _dtype(o)} for o in g.output],
        "nodes": len(g.node),
        "quantized": bool(ops["QuantizeLinear"] or ops["QLinearConv"] or ops["ConvInteger"]),
        "qdq_nodes": ops["QuantizeLinear"] + ops["DequantizeLinear"],
        "top_ops": dict(ops.most_common(8)),
        "metadata": {p.key: (p.value if len(p.value) <= 80 else p.value[:77] + "...") for p in model.metadata_props},
    }
    info["decoder"] = _guess_decoder(info)
    return info


def _guess_decoder(info: dict[str, Any]) -> str | None:
    from rsu.inference.decoders.registry import ModelInfo, default_registry

    shape = info["inputs"][0]["shape"] if info["inputs"] else []
    if len(shape) != 4 or not all(isinstance(d, int) for d in shape[2:]):
        return None
    layout = "NHWC" if shape[3] in (1, 3) and shape[1] not in (1, 3) else "NCHW"
    size = (shape[2], shape[1]) if layout == "NHWC" else (shape[3], shape[2])
    mi = ModelInfo(input_shape=tuple(shape), input_size=size, layout=layout,
                   output_shapes=tuple(tuple(o["shape"]) for o in info["outputs"]), metadata=info["metadata"])
    try:
        return default_registry().choose(mi).name
    except (ValueError, KeyError):
        return None


@torch_threads
def pt_info(path: str | Path, imgsz: int = 640) -> dict[str, Any]:
    """Facts about an ultralytics ``.pt`` (or an architecture yaml): needs torch and ultralytics."""
    from rsu.modeltools.env import require
    from rsu.modeltools.prune import count_params, load_model

    yolo = load_model(path)
    torch = require("torch")
    tp = require("torch_pruning")
    net = yolo.model.float().eval()
    macs, _ = tp.utils.count_ops_and_params(net, torch.zeros(1, 3, imgsz, imgsz))
    with torch.no_grad():
        out = net(torch.zeros(1, 3, imgsz, imgsz))
    first = out[0] if isinstance(out, (tuple, list)) else out
    p = Path(path)
    return {
        "path": str(path),
        "format": "pt" if p.suffix == ".pt" else "yaml",
        "size_bytes": p.stat().st_size if p.is_file() else None,
        "size_mb": round(p.stat().st_size / 2**20, 2) if p.is_file() else None,
        "params": count_params(net),
        "gflops": round(2 * macs / 1e9, 3),
        "imgsz": imgsz,
        "task": getattr(net, "task", None),
        "classes": len(getattr(net, "names", {}) or {}),
        "stride": [int(s) for s in getattr(net, "stride", [])],
        "outputs": [{"name": "output0", "shape": list(first.shape), "dtype": "float32"}],
    }


def model_info(path: str | Path, imgsz: int = 640) -> dict[str, Any]:
    """Info for ``.onnx`` (no torch), or ``.pt`` / ``.yaml`` (tools extra)."""
    suffix = Path(path).suffix.lower()
    if suffix == ".onnx":
        return onnx_info(path)
    if suffix in {".pt", ".yaml", ".yml"}:
        return pt_info(path, imgsz)
    raise ValueError(f"{path}: expected an .onnx, .pt or architecture .yaml file")
