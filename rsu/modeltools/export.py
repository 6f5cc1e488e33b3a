"""Export an ultralytics detector (architecture yaml or ``.pt``) to ONNX with ultralytics' own exporter.

The exporter embeds the metadata (names, stride, imgsz) that ultralytics' predictor reads back, so the same
ONNX runs in rsu's detector and in ultralytics. Output for YOLOv5u/v8 heads: ``[1, 84, 8400]`` at 640.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from rsu.modeltools.env import torch_threads
from rsu.modeltools.prune import load_model, save_checkpoint


def _quiet(_: str) -> None:
    pass


@torch_threads
def export_model(
    yolo: Any,
    out: str | Path,
    *,
    imgsz: int = 640,
    opset: int | None = None,
    simplify: bool = True,
    dynamic: bool = False,
) -> Path:
    """Export an already loaded ``YOLO`` (possibly pruned in memory) to ``out`` (an ``.onnx`` path)."""
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="rsu-export-") as tmp:
        # Go through a checkpoint so the exporter names its file after it and writes it where we say.
        pt = save_checkpoint(yolo.model, Path(tmp) / "model.pt")
        from rsu.modeltools.env import import_ultralytics

        ul = import_ultralytics()
        written = ul.YOLO(str(pt), task="detect").export(
            format="onnx", imgsz=imgsz, opset=opset, simplify=simplify, dynamic=dynamic, device="cpu"
        )
        shutil.move(str(written), out)
    return out


def export(
    source: str | Path,
    out: str | Path,
    *,
    imgsz: int = 640,
    opset: int | None = None,
    simplify: bool = True,
    dynamic: bool = False,
    progress: Callable[[str], None] = _quiet,
) -> Path:
    """Load ``source`` (yaml or ``.pt``) and write its ONNX to ``out``; returns ``out``."""
    progress(f"loading {source}")
    yolo = load_model(source)
    progress(f"exporting ONNX (imgsz {imgsz}, opset {opset or 'default'}, simplify {simplify})")
    return export_model(yolo, out, imgsz=imgsz, opset=opset, simplify=simplify, dynamic=dynamic)
