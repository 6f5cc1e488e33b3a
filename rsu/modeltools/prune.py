"""Structured channel pruning of YOLOv5s-family detectors (torch-pruning ``GroupNormPruner``).

Works on the ultralytics architectures (``yolov5s.yaml``, ``yolov5su.yaml``: built offline with random
weights) or a user's trained ultralytics ``.pt``. Whole channel groups are removed, so the pruned network is
a smaller dense network: it runs, exports to ONNX and reloads from the saved ``.pt``. Fine-tune it afterwards
from the saved ``.pt`` (``YOLO(pt).train(...)``; do not train from the yaml, which rebuilds the full width).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from rsu.modeltools.env import import_ultralytics, require, torch_threads

Progress = Callable[[str], None]


def _quiet(_: str) -> None:
    pass


@dataclass(frozen=True, slots=True, kw_only=True)
class PruneReport:
    """What pruning did: parameters and multiply-accumulates (at ``imgsz``) before and after."""

    source: str
    ratio: float
    imgsz: int
    params_before: int
    params_after: int
    macs_before: int
    macs_after: int

    @property
    def param_reduction(self) -> float:
        """Fraction of parameters removed (0.76 means 76% fewer)."""
        return 1.0 - self.params_after / self.params_before

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready summary."""
        return {
            "source": self.source,
            "ratio": self.ratio,
            "imgsz": self.imgsz,
            "params_before": self.params_before,
            "params_after": self.params_after,
            "param_reduction": round(self.param_reduction, 4),
            "gmacs_before": round(self.macs_before / 1e9, 3),
            "gmacs_after": round(self.macs_after / 1e9, 3),
        }


def load_model(source: str | Path) -> Any:
    """An ultralytics ``YOLO`` from an architecture yaml (random weights, offline) or a ``.pt`` file.

    :raises FileNotFoundError: a ``.pt`` path that does not exist (nothing is downloaded).
    :raises ValueError: something that is neither a ``.yaml``/``.yml`` nor a ``.pt``.
    """
    ul = import_ultralytics()
    text = str(source)
    suffix = Path(text).suffix.lower()
    if suffix in {".yaml", ".yml"}:
        import torch

        torch.manual_seed(0)  # random weights, but the same ones every time: reproducible builds and tests
        return ul.YOLO(text, task="detect")
    if suffix == ".pt":
        if not Path(text).is_file():
            raise FileNotFoundError(f"model weights not found: {text} (nothing is downloaded; give a local .pt)")
        return ul.YOLO(text, task="detect")
    raise ValueError(f"model source {text!r}: expected an architecture .yaml (e.g. yolov5su.yaml) or a .pt file")


def count_params(module: Any) -> int:
    """Number of parameters of a torch module."""
    return int(sum(p.numel() for p in module.parameters()))


@torch_threads
def prune_model(net: Any, *, ratio: float = 0.6, imgsz: int = 640, round_to: int = 8) -> tuple[int, int, int, int]:
    """Prune ``net`` (an ultralytics ``DetectionModel``) in place; the Detect head is left whole.

    Uses ``GroupNormPruner`` with ``GroupMagnitudeImportance(p=2)``: on YOLOv5su ratio 0.6 removes about 76%
    of the parameters. Channels are rounded to multiples of ``round_to`` (friendly to SIMD and INT8 kernels).

    :returns: ``(params_before, params_after, macs_before, macs_after)``.
    """
    if not 0.0 < ratio < 1.0:
        raise ValueError(f"pruning ratio must be in (0, 1), got {ratio}")
    torch = require("torch")
    tp = require("torch_pruning")
    net.float().eval()
    for p in net.parameters():
        p.requires_grad_(True)
    example = torch.zeros(1, 3, imgsz, imgsz)
    macs0, params0 = tp.utils.count_ops_and_params(net, example)
    head = net.model[-1]
    pruner = tp.pruner.GroupNormPruner(
        net,
        example,
        importance=tp.importance.GroupMagnitudeImportance(p=2),
        pruning_ratio=ratio,
        ignored_layers=[head],
        round_to=round_to,
    )
    pruner.step()
    macs1, params1 = tp.utils.count_ops_and_params(net, example)
    for p in net.parameters():
        p.requires_grad_(False)
    return int(params0), int(params1), int(macs0), int(macs1)


def save_checkpoint(net: Any, path: str | Path, **meta: Any) -> Path:
    """Save ``net`` as an ultralytics-loadable checkpoint (``YOLO(path)`` reloads it, pruned widths included)."""
    torch = require("torch")
    ul = import_ultralytics()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    ckpt = {
        "model": net.float().eval(),
        "train_args": dict(getattr(net, "args", {}) or {}),
        "date": datetime.now(timezone.utc).isoformat(),
        "version": ul.__version__,
        "rsu": meta,
    }
    torch.save(ckpt, path)
    return path


def prune(
    source: str | Path,
    out: str | Path,
    *,
    ratio: float = 0.6,
    imgsz: int = 640,
    round_to: int = 8,
    progress: Progress = _quiet,
) -> PruneReport:
    """Load ``source``, prune it, save the pruned ``.pt`` to ``out``; return the report."""
    progress(f"loading {source}")
    yolo = load_model(source)
    net = yolo.model
    progress(f"pruning (ratio {ratio}, round_to {round_to}, imgsz {imgsz})")
    p0, p1, m0, m1 = prune_model(net, ratio=ratio, imgsz=imgsz, round_to=round_to)
    report = PruneReport(
        source=str(source), ratio=ratio, imgsz=imgsz, params_before=p0, params_after=p1, macs_before=m0, macs_after=m1
    )
    progress(f"saving {out}")
    save_checkpoint(net, out, pruned=report.as_dict())
    return report
