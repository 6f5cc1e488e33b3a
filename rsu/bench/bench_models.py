"""The models ``rsu bench detector --streams`` runs: by default the project's own distilled student
(``yolov5s-vtest``, INT8 and FP32) with a dynamic batch and dynamic height and width, at its own input size.

The committed student may be exported with a fixed shape (one frame, one size): then a dynamic variant is
exported from the trained checkpoint of its distillation run (the run folder its record names, or
``var/distill-vtest`` under the current folder) into ``$RSU_CACHE_DIR/bench/detector/student-<hash>``, and the
INT8 one quantized from it with the recipe of ``rsu model distill`` (static QDQ, 7-bit weights, head excluded;
calibrated on the first frames of ``vtest.avi``, the training part of its split). Without either, the caller falls
back to the model zoo's pruned YOLOv5su (synthetic weights).
"""

from __future__ import annotations

import hashlib
import json
import shlex
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from rsu.core.errors import ModelError

__all__ = ["BenchModel", "STUDENT", "metadata_imgsz", "onnx_input", "student_models"]

STUDENT = "yolov5s-vtest"
VARIANTS = {"int8": STUDENT, "fp32": f"{STUDENT}-fp32"}
"""Variant -> project model name (rsu.assets.paths.PROJECT_MODELS)."""
DISTILL_DIR = Path("var") / "distill-vtest"
CALIBRATION_FRAMES = 32


@dataclass(frozen=True, slots=True)
class BenchModel:
    """One ONNX the bench runs: where it is, its square input side, and what it is (for the JSON)."""

    path: Path
    imgsz: int
    about: str


def onnx_input(path: Path) -> tuple[list[int | str], dict[str, str]]:
    """The image input's dims (ints, or names where dynamic) and the metadata of an ONNX file."""
    import onnx

    try:
        model = onnx.load(str(path), load_external_data=False)
    except Exception as exc:  # noqa: BLE001 - onnx raises protobuf's own errors for a file that is not ONNX
        raise ModelError(f"{path}: not a readable ONNX model ({type(exc).__name__})") from None
    dims = [d.dim_value if d.HasField("dim_value") else (d.dim_param or "?")
            for d in model.graph.input[0].type.tensor_type.shape.dim]
    return dims, {p.key: p.value for p in model.metadata_props}


def _dynamic(dims: list[int | str]) -> bool:
    return len(dims) == 4 and all(not isinstance(d, int) or d <= 0 for d in (dims[0], dims[2], dims[3]))


def _weights(model: Path) -> Path | None:
    """The trained checkpoint of the distillation run that made ``model`` (its record's ``--out``, else
    ``var/distill-vtest``), the one its export step used, if here."""
    folders = []
    for record in sorted(model.parent.glob(f"{STUDENT}*.record.json")):
        try:
            command = json.loads(record.read_text(encoding="utf-8")).get("command") or ""
            args = shlex.split(command)
        except (OSError, ValueError):
            continue
        if "--out" in args[:-1]:
            folders.append(Path(args[args.index("--out") + 1]))
    for folder in [*folders, DISTILL_DIR]:
        for name in (_exported_weights(folder), "best.pt", "last.pt"):
            pt = folder / "train" / "weights" / name if name else None
            if pt is not None and pt.is_file():
                return pt
    return None


def _exported_weights(folder: Path) -> str | None:
    """The checkpoint name the run's export step used (its ``state.json``: the train step's ``weights``)."""
    try:
        weights = json.loads((folder / "state.json").read_text(encoding="utf-8"))["steps"]["train"]["weights"]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return Path(weights).name if isinstance(weights, str) else None


def _export_dynamic(pt: Path, imgsz: int, progress: Callable[[str], None]) -> tuple[Path, Path]:
    """FP32 and INT8 ONNX of ``pt`` with dynamic batch, height and width, built once into the bench cache."""
    from rsu.modeltools.env import cache_dir

    digest = hashlib.sha256(pt.read_bytes()).hexdigest()[:12]
    folder = cache_dir() / "bench" / "detector" / f"student-{digest}-{imgsz}"
    fp32, int8 = folder / f"{STUDENT}-fp32-dynamic.onnx", folder / f"{STUDENT}-int8-dynamic.onnx"
    if not fp32.is_file():
        from rsu.modeltools.export import export

        progress(f"exporting {pt} with a dynamic batch and input size into {folder}")
        export(pt, fp32.with_suffix(".part.onnx"), imgsz=imgsz, dynamic=True, progress=progress)
        fp32.with_suffix(".part.onnx").replace(fp32)
    if not int8.is_file():
        from rsu.assets.paths import data_file
        from rsu.inference.preprocess import InputSpec
        from rsu.modeltools.quantize import calibration_batches, quantize_batches

        spec = InputSpec(size=(imgsz, imgsz), resize="rect")
        batches = calibration_batches([data_file("data/vtest.avi")], spec, limit=CALIBRATION_FRAMES, mirror=False)
        progress(f"quantizing it to static INT8 (QDQ, 7-bit weights) on {len(batches)} vtest.avi frames")
        quantize_batches(fp32, int8.with_suffix(".part.onnx"), batches)
        int8.with_suffix(".part.onnx").replace(int8)
    return fp32, int8


def student_models(progress: Callable[[str], None]) -> tuple[dict[str, BenchModel], str | None]:
    """``({"int8": ..., "fp32": ...}, None)`` for the variants of the student that can run batched here, or
    ``({}, why not)``."""
    from rsu.assets.paths import resolve_model

    committed = {}
    for variant, name in VARIANTS.items():
        try:
            committed[variant] = resolve_model(name)
        except ModelError:  # not in this installation (or not yet trained)
            continue
    if not committed:
        return {}, f"the student {STUDENT} is not in this installation"
    shapes = {v: onnx_input(p) for v, p in committed.items()}
    if all(_dynamic(dims) for dims, _ in shapes.values()):
        return {v: BenchModel(p, metadata_imgsz(shapes[v][1], 320), f"{p.name} (as committed, dynamic shape)")
                for v, p in committed.items()}, None
    dims, meta = next(iter(shapes.values()))
    imgsz = int(dims[2]) if isinstance(dims[2], int) and dims[2] > 0 else metadata_imgsz(meta, 320)
    pt = _weights(next(iter(committed.values())))
    if pt is None:
        return {}, (f"the committed {STUDENT} has a fixed input shape and its trained checkpoint (the "
                    f"distillation run's train/weights/best.pt) is not here")
    try:
        from rsu.modeltools.env import have_tools

        if not have_tools():
            return {}, f"exporting a dynamic-shape {STUDENT} needs the tools extra (pip install 'rsu[tools]')"
        fp32, int8 = _export_dynamic(pt, imgsz, progress)
    except (OSError, RuntimeError, ValueError) as exc:
        return {}, f"exporting a dynamic-shape {STUDENT} from {pt} failed: {exc}"
    about = f"(the installed {STUDENT}, fixed-shape, re-exported from {pt} with a dynamic batch and input size)"
    return {"int8": BenchModel(int8, imgsz, f"{int8.name} {about}"),
            "fp32": BenchModel(fp32, imgsz, f"{fp32.name} {about}")}, None


def metadata_imgsz(meta: dict[str, str], default: int) -> int:
    """The square input side an ultralytics export records in its metadata (``imgsz``), else ``default``."""
    import ast

    try:
        size = ast.literal_eval(meta.get("imgsz", "None"))
    except (ValueError, SyntaxError):
        return default
    if isinstance(size, (list, tuple)) and size and all(isinstance(s, int) for s in size):
        return max(size)
    return size if isinstance(size, int) and size > 0 else default
