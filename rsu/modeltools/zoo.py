"""The YOLOv5s model set the detector benchmark and the toolchain tests use, built from the architecture:
FP32 YOLOv5s(u), the same pruned (FP32), and pruned static INT8 (QDQ), all ONNX, plus a manifest.

Without trained weights the networks are random; :func:`rsu.modeltools.calibrate.make_synthetic` makes their
outputs depend on the image so that NMS has real work and INT8-vs-FP32 comparisons mean something. With a
user's trained ``.pt`` pass it as ``source`` and ``synthetic=False``.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

MANIFEST = "manifest.json"
LAYOUT_VERSION = 1


def _quiet(_: str) -> None:
    pass


def build_detector_set(
    folder: str | Path,
    *,
    source: str = "yolov5su.yaml",
    imgsz: int = 640,
    ratio: float = 0.6,
    calibration: Sequence[str | Path] = (),
    synthetic: bool = True,
    progress: Callable[[str], None] = _quiet,
) -> dict[str, Any]:
    """Build (or reuse, when the manifest matches) the model set in ``folder``; returns the manifest."""
    folder = Path(folder)
    wanted = {"layout": LAYOUT_VERSION, "source": source, "imgsz": imgsz, "ratio": ratio, "synthetic": synthetic}
    manifest_path = folder / MANIFEST
    if manifest_path.is_file():
        manifest = json.loads(manifest_path.read_text())
        if {k: manifest.get(k) for k in wanted} == wanted and all(
            (folder / manifest[k]).is_file() for k in ("fp32", "pruned_fp32", "pruned_int8")
        ):
            return {**manifest, "folder": str(folder)}

    from rsu.inference.preprocess import InputSpec
    from rsu.modeltools.calibrate import make_synthetic, recalibrate_bn
    from rsu.modeltools.export import export_model
    from rsu.modeltools.frames import bundled_images
    from rsu.modeltools.prune import count_params, load_model, prune_model, save_checkpoint
    from rsu.modeltools.quantize import calibration_batches, quantize_batches

    t0 = time.perf_counter()
    folder.mkdir(parents=True, exist_ok=True)
    sources = list(calibration) or bundled_images()
    batches = calibration_batches(sources, InputSpec(size=(imgsz, imgsz)), limit=16)
    progress(f"building {source} at {imgsz} ({'synthetic weights' if synthetic else 'given weights'})")
    yolo = load_model(source)
    if synthetic:
        make_synthetic(yolo.model, batches)
    params_full = count_params(yolo.model)
    progress("exporting FP32 ONNX")
    export_model(yolo, folder / "yolov5s_fp32.onnx", imgsz=imgsz)
    progress(f"pruning (ratio {ratio})")
    _, params_pruned, macs_full, macs_pruned = prune_model(yolo.model, ratio=ratio, imgsz=imgsz)
    recalibrate_bn(yolo.model, batches)
    save_checkpoint(yolo.model, folder / "yolov5s_pruned.pt", synthetic=synthetic)
    progress("exporting pruned FP32 ONNX")
    export_model(yolo, folder / "yolov5s_pruned_fp32.onnx", imgsz=imgsz)
    progress(f"quantizing pruned model to static INT8 (QDQ) on {len(batches)} frames")
    excluded, qdq = quantize_batches(folder / "yolov5s_pruned_fp32.onnx", folder / "yolov5s_pruned_int8.onnx", batches)
    manifest = {
        **wanted,
        "fp32": "yolov5s_fp32.onnx",
        "pruned_pt": "yolov5s_pruned.pt",
        "pruned_fp32": "yolov5s_pruned_fp32.onnx",
        "pruned_int8": "yolov5s_pruned_int8.onnx",
        "params_full": params_full,
        "params_pruned": params_pruned,
        "gmacs_full": round(macs_full / 1e9, 3),
        "gmacs_pruned": round(macs_pruned / 1e9, 3),
        "int8_excluded_nodes": excluded,
        "int8_qdq_nodes": qdq,
        "calibration": [str(s) for s in sources],
        "build_s": round(time.perf_counter() - t0, 1),
    }
    manifest_path.write_text(json.dumps(manifest, indent=2))
    progress(f"model set ready in {folder} ({manifest['build_s']} s)")
    return {**manifest, "folder": str(folder)}
