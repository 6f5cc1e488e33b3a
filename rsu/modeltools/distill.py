"""``rsu model distill``: a pruned YOLOv5s student learns one site from a teacher detector.

Steps, in order, each recorded in ``<out>/state.json`` when it finishes (``--resume`` skips finished steps and
continues training from the trainer's ``last.pt``):

1. ``labels``: the teacher labels the video, split by time (``labels.json``, :mod:`.distill_labels`);
2. ``dataset``: the training frames as a YOLO dataset (:mod:`.distill_dataset`);
3. ``prune``: YOLOv5s(u) with the student's classes, channel-pruned (:mod:`.distill_train`);
4. ``train``: the ultralytics trainer on CPU, from the pruned ``.pt``;
5. ``export``: ONNX FP32 (ultralytics' exporter: class names in the metadata);
6. ``quantize``: static INT8 QDQ calibrated on training frames (:mod:`.quantize`);
7. ``evaluate``: FP32 and INT8 on the held-out frames against the teacher's labels, by the evaluator the caller
   passes (the CLI passes ``rsu.eval.detector.evaluate_detector``; this package does not import ``rsu.eval``).

``<out>/record.json`` holds what a reader needs to trust or rebuild the model: data (video and sha256, frame
ranges), seed, the command, versions, epochs, wall time per step, parameters, sizes, metrics.
"""

from __future__ import annotations

import json
import platform
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

STEPS = ("labels", "dataset", "prune", "train", "export", "quantize", "evaluate")
RECORD_FORMAT = "rsu-distill-record/1"
# options that change what a finished step produced: a resumed run must use the same ones
_PINNED = ("video", "teacher", "conf", "flip_tta", "imgsz", "epochs", "ratio", "train_frac", "gap_frames",
           "frames_limit", "seed", "batch")

Progress = Callable[[str], None]
Evaluator = Callable[..., dict[str, Any]]


def _quiet(_: str) -> None:
    pass


class DistillError(ValueError):
    """A user error (bad option, bad video, a run folder that does not match): one clear line, exit 2."""


@dataclass(frozen=True, slots=True, kw_only=True)
class DistillOptions:
    """What ``rsu model distill`` was asked to do (``video`` as given; it is written into the labels)."""

    video: str
    out: str
    teacher: str = "nanodet-m"
    conf: float = 0.35
    flip_tta: bool = False
    imgsz: int = 320
    export_imgsz: int | None = None  # the exported models' input size (long side); None: imgsz
    epochs: int = 30
    ratio: float = 0.6
    train_frac: float = 0.8
    gap_frames: int | None = None
    frames_limit: int | None = None
    seed: int = 0
    batch: int = 16
    workers: int = 1
    command: str = ""


class _Run:
    """The run folder: options, finished steps and their results (``state.json``)."""

    def __init__(self, opts: DistillOptions, resume: bool, evaluate: Evaluator) -> None:
        self.opts, self.evaluate = opts, evaluate
        self.dir = Path(opts.out)
        self.state_path = self.dir / "state.json"
        pinned = {k: getattr(opts, k) for k in _PINNED}
        if self.state_path.is_file():
            if not resume:
                raise DistillError(f"{self.dir} already holds a distillation run: pass --resume to continue it, "
                                   "or choose another --out")
            self.state = json.loads(self.state_path.read_text())
            changed = [f"--{k.replace('_', '-')} {self.state['options'].get(k)!r} -> {v!r}"
                       for k, v in pinned.items() if self.state["options"].get(k) != v]
            if changed:
                raise DistillError(f"{self.dir}: --resume with different options than the run it continues: "
                                   + "; ".join(changed))
            self.state.setdefault("resumed", []).append(opts.command)
        else:
            self.state = {"options": pinned, "command": opts.command, "resumed": [], "steps": {}}
        self.dir.mkdir(parents=True, exist_ok=True)

    def done(self, step: str) -> dict[str, Any] | None:
        return self.state["steps"].get(step)

    def finish(self, step: str, seconds: float, result: dict[str, Any]) -> None:
        self.state["steps"][step] = {"seconds": round(seconds, 2), **result}
        tmp = self.state_path.with_suffix(".tmp")
        tmp.write_text(json.dumps(self.state, indent=2, default=str))
        tmp.replace(self.state_path)


def check_video(video: str) -> Path:
    """The video path; :raises DistillError: missing or not decodable (names the file)."""
    path = Path(video)
    if not path.is_file():
        raise DistillError(f"--video {video}: no such file")
    import cv2

    cap = cv2.VideoCapture(str(path))
    ok = cap.isOpened() and cap.read()[0]
    cap.release()
    if not ok:
        raise DistillError(f"--video {video}: not a video OpenCV can decode")
    return path


def _versions() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    out = {"python": platform.python_version()}
    for dist in ("rsu", "torch", "torchvision", "ultralytics", "torch-pruning", "onnx", "onnxruntime",
                 "opencv-python-headless"):
        try:
            out[dist] = version(dist)
        except PackageNotFoundError:
            pass
    return out


def _size(folder: Path, written: str) -> dict[str, Any]:
    """A model file of the run: its name in the run folder (the folder can move) and its size."""
    name = Path(written).name
    size = (folder / name).stat().st_size
    return {"path": name, "bytes": size, "mb": round(size / 1e6, 3)}


def run_distill(opts: DistillOptions, evaluate: Evaluator, *, resume: bool = False, progress: Progress = _quiet
                ) -> dict[str, Any]:
    """Run (or continue) the chain; returns the record (also written to ``<out>/record.json``).

    ``evaluate(truth, models, split=, teacher=, ceiling=, progress=)`` scores the student models on the
    held-out frames (``rsu.eval.detector.evaluate_detector``'s contract)."""
    from rsu.modeltools.env import import_ultralytics, require

    video = check_video(opts.video)
    if opts.epochs < 1 or opts.imgsz < 32 or opts.imgsz % 32:
        raise DistillError(f"--epochs must be >= 1 and --imgsz a multiple of 32 (>= 32); got {opts.epochs}, "
                           f"{opts.imgsz}")
    if opts.export_imgsz is not None and (opts.export_imgsz < 32 or opts.export_imgsz % 32):
        raise DistillError(f"--export-imgsz must be a multiple of 32 (>= 32); got {opts.export_imgsz}")
    import_ultralytics()  # fail now, naming the extra to install, not after the teacher pass
    require("torch_pruning")
    run = _Run(opts, resume, evaluate)
    out = run.dir
    steps = {"labels": _labels, "dataset": _dataset, "prune": _prune, "train": _train, "export": _export,
             "quantize": _quantize, "evaluate": _evaluate}
    skipped: list[str] = []
    exported = run.done("export")
    if exported is not None and exported.get("imgsz", opts.imgsz) != _export_size(opts):
        progress(f"--export-imgsz {_export_size(opts)} differs from the finished export's "
                 f"{exported.get('imgsz', opts.imgsz)}: export, quantize and evaluate run again")
        for step in ("export", "quantize", "evaluate"):
            run.state["steps"].pop(step, None)
    for n, step in enumerate(STEPS, 1):
        if run.done(step) is not None:
            progress(f"step {n}/{len(STEPS)} {step}: done in an earlier run, skipped")
            skipped.append(step)
            continue
        progress(f"step {n}/{len(STEPS)} {step}")
        t0 = time.perf_counter()
        result = steps[step](opts, video, out, run, progress)
        run.finish(step, time.perf_counter() - t0, result)
        progress(f"step {n}/{len(STEPS)} {step}: finished in {time.perf_counter() - t0:.1f} s")
    record = relative_paths(_record(opts, run))
    (out / "record.json").write_text(json.dumps(record, indent=2, default=str))
    progress(f"record: {out / 'record.json'}")
    return {**record, "skipped_steps": skipped}


def _labels(opts: DistillOptions, video: Path, out: Path, run: _Run, progress: Progress) -> dict[str, Any]:
    from rsu.modeltools.distill_labels import label_video

    res = label_video(video, out / "labels.json", teacher=opts.teacher, conf=opts.conf, flip_tta=opts.flip_tta,
                      train_frac=opts.train_frac, gap_frames=opts.gap_frames, frames_limit=opts.frames_limit,
                      video_label=opts.video, progress=progress)
    lab = res["labels"]
    progress(f"student classes: {', '.join(lab['classes'])}; boxes {res['counts']}")
    return {"labels": str(out / "labels.json"), "classes": lab["classes"], "split": lab["split"],
            "frames_total": lab["frames_total"], "width": lab["width"], "height": lab["height"],
            "video_sha256": lab["video_sha256"], "boxes": res["counts"], "dropped_boxes": res["dropped"]}


def _dataset(opts: DistillOptions, video: Path, out: Path, run: _Run, progress: Progress) -> dict[str, Any]:
    from rsu.modeltools.distill_dataset import write_dataset
    from rsu.modeltools.distill_labels import load_labels

    labels = load_labels(out / "labels.json")
    res = write_dataset(video, labels, out / "dataset")
    progress(f"dataset: {res['train_images']} training images ({res['val_images']} also as trainer val)")
    return res


def _prune(opts: DistillOptions, video: Path, out: Path, run: _Run, progress: Progress) -> dict[str, Any]:
    from rsu.modeltools.distill_train import build_pruned_student

    classes = run.done("labels")["classes"]  # type: ignore[index]
    report = build_pruned_student(classes, out / "student_pruned.pt", ratio=opts.ratio, imgsz=opts.imgsz,
                                  seed=opts.seed)
    progress(f"pruned: params {report['params_before']:,} -> {report['params_after']:,} "
             f"(-{report['param_reduction']:.1%})")
    return {"pt": str(out / "student_pruned.pt"), **report}


def _train(opts: DistillOptions, video: Path, out: Path, run: _Run, progress: Progress) -> dict[str, Any]:
    from rsu.modeltools.distill_train import train_student

    data = run.done("dataset")["data_yaml"]  # type: ignore[index]
    res = train_student(out / "student_pruned.pt", Path(data), out / "train", epochs=opts.epochs, imgsz=opts.imgsz,
                        seed=opts.seed, batch=opts.batch, workers=opts.workers, resume=True, progress=progress)
    return res


def _export_size(opts: DistillOptions) -> int:
    return opts.export_imgsz or opts.imgsz


def _export(opts: DistillOptions, video: Path, out: Path, run: _Run, progress: Progress) -> dict[str, Any]:
    from rsu.modeltools.distill_train import load_student
    from rsu.modeltools.export import export_model
    from rsu.modeltools.prune import count_params

    weights = out / "train" / "weights" / Path(run.done("train")["weights"]).name  # type: ignore[index]
    yolo = load_student(weights)
    # a dynamic batch and input size: the box batches cameras and feeds the stride-aligned rectangle of its video
    path = export_model(yolo, out / "student_fp32.onnx", imgsz=_export_size(opts), dynamic=True)
    progress(f"exported {path} at {_export_size(opts)} (dynamic batch and input size)")
    return {"onnx": str(path), "params": count_params(yolo.model), "imgsz": _export_size(opts)}


def _quantize(opts: DistillOptions, video: Path, out: Path, run: _Run, progress: Progress) -> dict[str, Any]:
    from rsu.modeltools.compare import compare_models
    from rsu.modeltools.distill_dataset import calibration_images
    from rsu.modeltools.quantize import calibration_batches, input_spec_of, quantize_batches

    fp32, int8 = out / "student_fp32.onnx", out / "student_int8.onnx"
    images = calibration_images(out / "dataset")
    batches = calibration_batches(images, input_spec_of(fp32, _export_size(opts)), limit=len(images), mirror=False)
    progress(f"calibrating static INT8 (QDQ, 7-bit weights) on {len(batches)} training frames")
    excluded, qdq = quantize_batches(fp32, int8, batches)
    comparison = compare_models(fp32, int8, batches)
    return {"onnx": str(int8), "calibration_frames": len(batches), "excluded_nodes": excluded, "qdq_nodes": qdq,
            "reduce_range": True, "comparison": comparison.as_dict()}


def _evaluate(opts: DistillOptions, video: Path, out: Path, run: _Run, progress: Progress) -> dict[str, Any]:
    models = {"fp32": out / "student_fp32.onnx", "int8": out / "student_int8.onnx"}
    return run.evaluate(out / "labels.json", models, split="held_out", teacher=opts.teacher, ceiling=True,
                             progress=progress)


def targets(metrics: dict[str, Any]) -> dict[str, Any]:
    """The issue's targets, met or not, from the evaluation."""
    ceiling = metrics.get("ceiling_map50") or 0.0
    fp32, int8 = metrics["fp32"]["map50"], metrics["int8"]["map50"]
    speedup = metrics["teacher_ms_per_frame"] / metrics["int8"]["ms_per_frame"]
    return {
        "fp32_map50_ge_0.6_ceiling": {"value": round(fp32 / ceiling, 3) if ceiling else None,
                                      "met": bool(ceiling) and fp32 >= 0.6 * ceiling},
        "int8_within_0.02_of_fp32": {"value": round(int8 - fp32, 4), "met": int8 >= fp32 - 0.02},
        "int8_ge_3x_faster_than_teacher": {"value": round(speedup, 2), "met": speedup >= 3.0},
    }


def relative_paths(value: Any, base: Path | None = None) -> Any:
    """``value`` with every absolute path under ``base`` (default: the working folder) written relative to it,
    so a record names no folder of the machine it was made on."""
    root = str((base or Path.cwd()).resolve()) + "/"
    if isinstance(value, dict):
        return {k: relative_paths(v, base) for k, v in value.items()}
    if isinstance(value, list):
        return [relative_paths(v, base) for v in value]
    if isinstance(value, str) and value.startswith(root):
        return value[len(root):]
    return value


def _record(opts: DistillOptions, run: _Run) -> dict[str, Any]:
    s = run.state["steps"]
    lab, prune, train = s["labels"], s["prune"], s["train"]
    metrics = s["evaluate"]
    return {
        "format": RECORD_FORMAT,
        "command": run.state.get("command", opts.command),  # the first run's; resumed runs follow
        "resumed_with": run.state.get("resumed", []),
        "seed": opts.seed,
        "options": {k: v for k, v in asdict(opts).items() if k != "command"},
        "data": {"video": opts.video, "video_sha256": lab["video_sha256"], "frames_total": lab["frames_total"],
                 "width": lab["width"], "height": lab["height"], "split": lab["split"], "boxes": lab["boxes"],
                 "dropped_boxes": lab["dropped_boxes"], "labels": "labels.json",
                 "teacher": {"model": opts.teacher, "conf": opts.conf, "flip_tta": opts.flip_tta},
                 "train_images": s["dataset"]["train_images"]},
        "classes": lab["classes"],
        "versions": _versions(),
        "epochs": opts.epochs,
        "epoch_log": train.get("epoch_log", []),
        "torch_threads": train.get("torch_threads"),
        "wall_s": {step: s[step]["seconds"] for step in STEPS},
        "wall_s_total": round(sum(s[step]["seconds"] for step in STEPS), 1),
        "params": {"before_pruning": prune["params_before"], "after_pruning": prune["params_after"],
                   "reduction": prune["param_reduction"], "gmacs_before": prune["gmacs_before"],
                   "gmacs_after": prune["gmacs_after"]},
        "models": {"pruned_pt": _size(run.dir, prune["pt"]), "fp32": _size(run.dir, s["export"]["onnx"]),
                   "int8": _size(run.dir, s["quantize"]["onnx"])},
        "int8": {k: s["quantize"][k] for k in ("calibration_frames", "excluded_nodes", "qdq_nodes", "reduce_range",
                                               "comparison")},
        "eval": metrics,
        "targets": targets(metrics),
    }
