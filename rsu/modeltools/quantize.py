"""Static INT8 (QDQ) quantization with ONNX Runtime, calibrated on real frames.

Why static QDQ: dynamic INT8 (ConvInteger) is 5-15x slower than FP32 on x86 CPUs here. Why the head's
post-processing stays float: YOLO heads end in one Concat that mixes 0-640 px boxes with 0-1 scores; one
uint8 scale for both wipes the scores out (zero detections). :func:`head_postprocess_nodes` finds every node
downstream of the first reshape out of the 4-D feature maps (box/score decode, DFL, grid math) and excludes
it. The last convolutions stay INT8.

Which kernels it targets (why ``reduce_range`` is on by default): the QDQ graph is U8S8, uint8 activations and
int8 per-channel weights, the layout ONNX Runtime's fastest x86 path (MLAS ``QLinearConv``/``MatMulInteger``)
takes. On x86 without VNNI (AVX2/FMA only: most pre-2019 Xeons, many Atoms and AMD Zen 1-3) that path multiplies
with ``VPMADDUBSW``, which adds two u8*s8 products into a *saturating* int16: with full 8-bit weights
255*127*2 = 64770 overflows 32767 and large activations are clipped, so scores collapse (a YOLO kept 6 of 90
FP32 detections). ``reduce_range=True`` quantizes weights to 7 bits (-64..64): 255*64*2 = 32640 fits, so no
sum can saturate, on any x86. AVX-512 VNNI/AVX-VNNI (``VPDPBUSD``, 32-bit accumulation) and ARM
(``SDOT``/``UDOT`` or widening multiplies, e.g. a Jetson's CPU fallback) never saturated and run the same model
unchanged; they lose one bit of weight precision, which per-channel scales make up for (top boxes and score
correlation unchanged within noise). Signed activations (S8S8) avoid saturation too but have no fast x86
kernel in ONNX Runtime (about FP32 speed here), so U8S8 with 7-bit weights keeps the INT8 speed-up everywhere.
"""

from __future__ import annotations

import logging
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from rsu.modeltools.compare import OutputComparison, compare_models
from rsu.modeltools.frames import augment, load_frames

log = logging.getLogger(__name__)

SEED_OPS = {"Reshape", "Flatten", "Squeeze", "Unsqueeze"}


def _quiet(_: str) -> None:
    pass


def head_postprocess_nodes(model: Any) -> list[str]:
    """Names of the nodes after the last 4-D feature maps: reshapes of 4-D tensors to another rank and
    everything downstream of them."""
    import onnx

    inferred = onnx.shape_inference.infer_shapes(model)
    rank: dict[str, int] = {}
    for vi in [*inferred.graph.value_info, *inferred.graph.input, *inferred.graph.output]:
        if vi.type.tensor_type.HasField("shape"):
            rank[vi.name] = len(vi.type.tensor_type.shape.dim)
    consumers: dict[str, list[Any]] = {}
    for node in inferred.graph.node:
        for name in node.input:
            consumers.setdefault(name, []).append(node)
    stack = [n for n in inferred.graph.node
             if n.op_type in SEED_OPS and rank.get(n.input[0]) == 4 and rank.get(n.output[0], 4) != 4]
    seen: set[str] = set()
    while stack:
        node = stack.pop()
        if node.name in seen:
            continue
        seen.add(node.name)
        for out in node.output:
            stack.extend(consumers.get(out, []))
    return sorted(seen)


def input_spec_of(model_path: str | Path, imgsz: int | None = None) -> Any:
    """The input spec (YOLO: RGB, /255, NCHW) for a model: its fixed input size, letterboxed; for a model with a
    dynamic height and width, ``imgsz`` (else the export's ``imgsz`` metadata) as the long side of the
    stride-aligned rectangle the box's detector feeds it (``resize: rect``)."""
    import ast

    import onnx

    from rsu.inference.preprocess import InputSpec

    model = onnx.load(str(model_path), load_external_data=False)
    dims = [d.dim_value for d in model.graph.input[0].type.tensor_type.shape.dim]
    if len(dims) != 4:
        raise ValueError(f"{model_path}: expected an NCHW image input, got {dims}")
    if dims[2] > 0 and dims[3] > 0:
        return InputSpec(size=(dims[3], dims[2]))
    if imgsz is None:
        meta = {p.key: p.value for p in model.metadata_props}
        try:
            size = ast.literal_eval(meta.get("imgsz", "None"))
        except (ValueError, SyntaxError):
            size = None
        imgsz = max(size) if isinstance(size, (list, tuple)) and size else size if isinstance(size, int) else None
    if not isinstance(imgsz, int) or imgsz <= 0:
        raise ValueError(f"{model_path}: the input size is dynamic and the model does not say its imgsz: give one")
    return InputSpec(size=(imgsz, imgsz), resize="rect")


def calibration_batches(sources: Sequence[str | Path], spec: Any, limit: int = 32, mirror: bool = True
                        ) -> list[np.ndarray]:
    """Pre-processed ``1x3xHxW`` batches from images, folders or videos (mirrored copies added)."""
    from rsu.inference.preprocess import prepare_batch

    frames = load_frames(sources, limit)
    if mirror:
        frames = list(augment(frames))[: max(limit, len(frames))]
    return [prepare_batch([f], spec)[0] for f in frames]


class FrameReader:
    """``onnxruntime.quantization.CalibrationDataReader`` over pre-processed batches."""

    def __init__(self, input_name: str, batches: Sequence[np.ndarray]) -> None:
        self.input_name = input_name
        self.batches = list(batches)
        self._it = iter(self.batches)

    def get_next(self) -> dict[str, np.ndarray] | None:
        batch = next(self._it, None)
        return None if batch is None else {self.input_name: batch}

    def rewind(self) -> None:
        self._it = iter(self.batches)


@dataclass(frozen=True, slots=True, kw_only=True)
class QuantReport:
    """What quantization did and how far the INT8 outputs moved from FP32."""

    source: str
    output: str
    frames: int
    excluded_nodes: int
    qdq_nodes: int
    per_channel: bool
    reduce_range: bool = True
    comparison: OutputComparison | None = None
    notes: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        out = {k: getattr(self, k) for k in ("source", "output", "frames", "excluded_nodes", "qdq_nodes",
                                             "per_channel", "reduce_range", "notes")}
        out["comparison"] = self.comparison.as_dict() if self.comparison else None
        return out


def quantize_batches(
    fp32: str | Path,
    out: str | Path,
    batches: Sequence[np.ndarray],
    *,
    per_channel: bool = True,
    exclude_head: bool = True,
    method: str = "minmax",
    reduce_range: bool = True,
) -> tuple[int, int]:
    """Write a static INT8 QDQ model of ``fp32`` to ``out``; returns ``(excluded_nodes, qdq_nodes)``.

    ``reduce_range``: 7-bit weights, so that x86 CPUs without VNNI cannot saturate (see the module docstring);
    turn it off only for a model that will run on VNNI or ARM CPUs alone."""
    import onnx
    from onnxruntime.quantization import CalibrationMethod, QuantFormat, QuantType, quantize_static
    from onnxruntime.quantization.shape_inference import quant_pre_process

    methods = {"minmax": CalibrationMethod.MinMax, "entropy": CalibrationMethod.Entropy,
               "percentile": CalibrationMethod.Percentile}
    if method not in methods:
        raise ValueError(f"calibration method {method!r}: expected one of {', '.join(methods)}")
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="rsu-quant-") as tmp:
        pre = Path(tmp) / "pre.onnx"
        try:  # shape inference + graph optimisation, as ONNX Runtime recommends before quantizing
            quant_pre_process(str(fp32), str(pre), skip_symbolic_shape=True)
        except Exception as exc:  # noqa: BLE001 - quantizing without it still works
            log.warning("quantization pre-processing failed (%s); quantizing the model as is", exc)
            pre = Path(fp32)
        model = onnx.load(str(pre))
        excluded = head_postprocess_nodes(model) if exclude_head else []
        input_name = model.graph.input[0].name
        quantize_static(
            str(pre), str(out), FrameReader(input_name, batches),
            quant_format=QuantFormat.QDQ, activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8,
            per_channel=per_channel, reduce_range=reduce_range, nodes_to_exclude=excluded,
            calibrate_method=methods[method],
        )
    qdq = sum(n.op_type in {"QuantizeLinear", "DequantizeLinear"} for n in onnx.load(str(out)).graph.node)
    return len(excluded), qdq


def quantize(
    fp32: str | Path,
    out: str | Path,
    calibration: Sequence[str | Path],
    *,
    limit: int = 32,
    per_channel: bool = True,
    exclude_head: bool = True,
    method: str = "minmax",
    reduce_range: bool = True,
    compare: bool = True,
    progress: Callable[[str], None] = _quiet,
) -> QuantReport:
    """Quantize ``fp32`` to static INT8 QDQ at ``out`` using frames from ``calibration``; compare the outputs."""
    spec = input_spec_of(fp32)
    progress(f"reading calibration frames from {', '.join(map(str, calibration))}")
    batches = calibration_batches(calibration, spec, limit)
    progress(f"calibrating on {len(batches)} frames and writing static INT8 (QDQ) to {out}")
    excluded, qdq = quantize_batches(fp32, out, batches, per_channel=per_channel, exclude_head=exclude_head,
                                     method=method, reduce_range=reduce_range)
    notes = []
    if not exclude_head:
        notes.append("whole graph quantized: YOLO scores usually collapse (box and score share one scale)")
    comparison = None
    if compare:
        progress("comparing INT8 with FP32 outputs")
        comparison = compare_models(fp32, out, batches)
    return QuantReport(source=str(fp32), output=str(out), frames=len(batches), excluded_nodes=excluded,
                       qdq_nodes=qdq, per_channel=per_channel, reduce_range=reduce_range, comparison=comparison,
                       notes=notes)
