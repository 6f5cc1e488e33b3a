"""The student: a pruned YOLOv5s (ultralytics ``yolov5su.yaml``, ``nc`` = the student's classes) and its training
with the ultralytics trainer on CPU.

The ultralytics trainer rebuilds a network from its yaml before training (``DetectionTrainer.get_model``),
which would silently restore the full, unpruned width. :class:`PrunedTrainer` trains the given pruned network
as it is, also when training resumes from ``last.pt``.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from rsu.modeltools.env import import_ultralytics, require
from rsu.modeltools.prune import prune_model, save_checkpoint

Progress = Callable[[str], None]
ARCH = "yolov5su.yaml"


def _quiet(_: str) -> None:
    pass


def build_pruned_student(classes: list[str], out: Path, *, ratio: float = 0.6, imgsz: int = 320, seed: int = 0
                         ) -> dict[str, Any]:
    """Build YOLOv5s(u) with ``len(classes)`` classes (random weights from ``seed``), prune it, save ``out``."""
    torch = require("torch")
    import_ultralytics()
    from ultralytics.nn.tasks import DetectionModel

    torch.manual_seed(seed)
    net = DetectionModel(ARCH, nc=len(classes), verbose=False)
    net.names = dict(enumerate(classes))
    p0, p1, m0, m1 = prune_model(net, ratio=ratio, imgsz=imgsz)
    report = {"arch": ARCH, "ratio": ratio, "imgsz": imgsz, "params_before": p0, "params_after": p1,
              "param_reduction": round(1 - p1 / p0, 4), "gmacs_before": round(m0 / 1e9, 3),
              "gmacs_after": round(m1 / 1e9, 3)}
    save_checkpoint(net, out, pruned=report, classes=classes)
    return report


def _pruned_trainer() -> type:
    import_ultralytics()
    from ultralytics.models.yolo.detect import DetectionTrainer

    class PrunedTrainer(DetectionTrainer):  # type: ignore[misc, valid-type]
        """Trains the network it is given (pruned widths kept) instead of rebuilding it from the yaml."""

        def get_model(self, cfg: Any = None, weights: Any = None, verbose: bool = True) -> Any:
            torch = require("torch")
            if isinstance(weights, torch.nn.Module):
                model = weights.float()
                head_nc = getattr(model.model[-1], "nc", None)
                if head_nc != self.data["nc"]:
                    raise ValueError(f"the student has {head_nc} classes, its dataset {self.data['nc']}")
                return model
            return super().get_model(cfg=cfg, weights=weights, verbose=verbose)

    return PrunedTrainer


def train_student(
    pruned_pt: Path,
    data_yaml: Path,
    folder: Path,
    *,
    epochs: int,
    imgsz: int,
    seed: int = 0,
    batch: int = 16,
    workers: int = 1,
    resume: bool = False,
    progress: Progress = _quiet,
) -> dict[str, Any]:
    """Train ``pruned_pt`` on ``data_yaml`` on the CPU; checkpoints in ``folder/weights`` (``last.pt``, ``best.pt``).

    With ``resume`` and a ``folder/weights/last.pt`` from an unfinished run, the trainer continues from it
    (optimizer, epoch and EMA state included). Returns the final weights, epochs run and per-epoch losses.
    """
    torch = require("torch")
    ul = import_ultralytics()
    folder = folder.resolve()  # ultralytics puts a relative project under runs/detect/
    last = folder / "weights" / "last.pt"
    epoch_log: list[dict[str, Any]] = []
    t_epoch = [time.perf_counter()]

    def on_epoch_end(trainer: Any) -> None:
        now = time.perf_counter()
        losses = {k.split("/")[-1]: round(float(v), 4) for k, v in trainer.label_loss_items(trainer.tloss).items()}
        row = {"epoch": trainer.epoch + 1, "seconds": round(now - t_epoch[0], 1), **losses}
        t_epoch[0] = now
        epoch_log.append(row)
        loss_text = " ".join(f"{k} {v:.3f}" for k, v in losses.items())
        progress(f"epoch {row['epoch']}/{trainer.epochs}: {loss_text} ({row['seconds']} s)")

    threads = max(1, int(os.environ.get("RSU_TORCH_THREADS", "1")))
    old_threads = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        trainer_cls = _pruned_trainer()
        if resume and last.is_file() and _resumable(last):
            progress(f"resuming training from {last}")
            yolo = ul.YOLO(str(last), task="detect")
            yolo.add_callback("on_train_epoch_end", on_epoch_end)
            yolo.train(resume=True, trainer=trainer_cls, workers=workers)
        else:
            yolo = ul.YOLO(str(pruned_pt), task="detect")
            yolo.add_callback("on_train_epoch_end", on_epoch_end)
            yolo.train(
                trainer=trainer_cls, data=str(data_yaml), epochs=epochs, imgsz=imgsz, batch=batch, workers=workers,
                device="cpu", seed=seed, deterministic=True, project=str(folder.parent), name=folder.name,
                exist_ok=True, val=False, plots=False, amp=False, verbose=False,
                close_mosaic=max(1, min(10, epochs // 4)), patience=epochs + 1,
                nbs=batch,  # one optimizer step per batch: few images, many steps (default accumulates to 64)
            )
    finally:
        torch.set_num_threads(old_threads)
    best = folder / "weights" / "best.pt"
    final = best if best.is_file() else last
    if not final.is_file():
        raise RuntimeError(f"training wrote no weights in {folder / 'weights'}")
    return {"weights": str(final), "epochs": epochs, "epoch_log": epoch_log, "torch_threads": threads}


def _resumable(last: Path) -> bool:
    """True when ``last.pt`` is an unfinished run (the trainer strips the optimizer when a run completes)."""
    torch = require("torch")
    ckpt = torch.load(str(last), map_location="cpu", weights_only=False)
    return ckpt.get("optimizer") is not None and ckpt.get("epoch", -1) >= 0


def load_student(weights: Path) -> Any:
    """The trained student as an ultralytics ``YOLO`` (for the ONNX export)."""
    ul = import_ultralytics()
    return ul.YOLO(str(weights), task="detect")
