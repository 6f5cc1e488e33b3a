"""A detector against teacher labels of held-out frames: COCO mAP50 / mAP50-95 of each model, the teacher's
agreement with itself on mirrored frames (the ceiling), and each one's time per frame, measured interleaved.

Models run through :class:`rsu.inference.detector.Detector`, the code the box runs, restricted to the labels'
classes: scored at a low confidence threshold (:data:`EVAL_CONF`, standard for mAP), timed (the whole step:
pre-processing, model, decoding, NMS) at the box's default threshold, on every frame.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from rsu.eval.detector_map import coco_map
from rsu.eval.detector_truth import Truth, TruthError, load_truth, video_frames

__all__ = ["EVAL_CONF", "TruthError", "evaluate_detector", "models_from_record"]

EVAL_CONF = 0.001
"""Confidence threshold of every model during evaluation (the precision-recall curve needs the low scores)."""
MAX_DETS = 100
"""Detections kept per frame (COCO's maxDets)."""
TEACHER = "teacher"


def _quiet(_: str) -> None:
    pass


class _Runner:
    """One model over the frames: its detections (class ids of the labels' list) and its times."""

    def __init__(self, model: str | Path, truth: Truth, threads: int | None, *, flip: bool, role: str) -> None:
        from rsu.config.models import DetectorConfig
        from rsu.inference.detector import Detector, ModelError

        base = DetectorConfig(model=str(model), threads=threads, allow_spinning=False)
        det = Detector.from_config(base)
        missing = [c for c in truth.classes if c not in det.class_names]
        if missing:
            raise ModelError(f"{role} model {det.backend.path}: its classes do not cover the labels' "
                             f"(missing {', '.join(missing)}; it has {', '.join(det.class_names[:12])}"
                             f"{', ...' if len(det.class_names) > 12 else ''})")
        parts = (det.backend, det.entry, det.decoder, det.spec, det.class_names)
        box_cfg = base.model_copy(update={"classes": list(truth.classes)})
        self.timed = Detector(*parts, box_cfg)  # as the box runs it: its default threshold, the labels' classes
        self.scorer = Detector(*parts, box_cfg.model_copy(update={"conf_threshold": EVAL_CONF,
                                                                  "max_detections": MAX_DETS}))
        self.path = det.backend.path
        self.flip = flip
        self._to_truth = np.array([truth.classes.index(n) if n in truth.classes else -1 for n in det.class_names])
        self.boxes: list[np.ndarray] = []
        self.ids: list[np.ndarray] = []
        self.scores: list[np.ndarray] = []
        self.ms: list[float] = []
        self.infer_ms: list[float] = []

    def warm_up(self, image: np.ndarray) -> None:
        self.timed.detect_image(image)
        self.scorer.detect_image(image)

    def run(self, index: int, image: np.ndarray) -> None:
        """Time one frame at the box's threshold, then detect it again at :data:`EVAL_CONF` for the score."""
        stats = self.timed.stats
        infer0 = stats["infer_ms_total"]
        t0 = time.perf_counter_ns()
        self.timed.detect_image(image, source="eval", frame_id=index, t_event_ns=index)
        self.ms.append((time.perf_counter_ns() - t0) / 1e6)
        self.infer_ms.append(stats["infer_ms_total"] - infer0)
        dets = self.scorer.detect_image(image, source="eval", frame_id=index, t_event_ns=index)
        boxes = np.asarray(dets.xyxy, np.float64)
        if self.flip:  # boxes found on the mirrored frame, mapped back
            width = dets.image_size[0]
            boxes = np.column_stack([width - boxes[:, 2], boxes[:, 1], width - boxes[:, 0], boxes[:, 3]])
        ids = self._to_truth[np.asarray(dets.class_id, np.int64)]
        keep = ids >= 0
        self.boxes.append(boxes[keep])
        self.ids.append(ids[keep])
        self.scores.append(np.asarray(dets.confidence, np.float64)[keep])

    def score(self, truth: Truth) -> dict[str, Any]:
        return coco_map(truth.classes, truth.boxes, truth.class_ids, self.boxes, self.ids, self.scores)


def _r(value: float | None, digits: int = 4) -> float | None:
    return None if value is None else round(float(value), digits)


def evaluate_detector(truth: Path, models: dict[str, str | Path], *, split: str = "held_out",
                      teacher: str = "nanodet-m", ceiling: bool = True, threads: int | None = None,
                      progress: Callable[[str], None] = _quiet) -> dict[str, Any]:
    """Score each of ``models`` (name -> file or asset name) against the teacher labels ``truth`` on ``split``.

    With ``ceiling`` the teacher also runs, on horizontally mirrored frames with its boxes mapped back: its
    mAP50 against its own labels is the ceiling a student can reach, and its time per frame the speed
    baseline. All models run on each frame in a shuffled order (same threads, no spinning), so their medians
    share the machine's conditions.

    :raises TruthError: the label file or its video is wrong (message names the key).
    :raises ModelError: a model is missing, unreadable, or lacks some of the labels' classes.
    """
    import cv2

    from rsu.config.models import DetectorConfig

    labels = load_truth(truth, split)
    progress(f"{labels.path}: {len(labels.indices)} {split} frames, {labels.box_count} boxes, "
             f"classes {', '.join(labels.classes)}")
    runners = {name: _Runner(path, labels, threads, flip=False, role=name) for name, path in models.items()}
    if ceiling:
        runners[TEACHER] = _Runner(teacher, labels, threads, flip=True, role="teacher")
    order = list(runners.values())
    rng = np.random.default_rng(0)
    step = max(1, len(labels.indices) // 10)
    for n, (index, image) in enumerate(video_frames(labels)):
        mirrored = cv2.flip(image, 1)
        if n == 0:
            for runner in order:
                runner.warm_up(mirrored if runner.flip else image)
        for j in rng.permutation(len(order)):  # a new order each frame: no model pays for a fixed neighbour
            runner = order[j]
            runner.run(index, mirrored if runner.flip else image)
        if (n + 1) % step == 0 or n + 1 == len(labels.indices):
            progress(f"frame {n + 1}/{len(labels.indices)} (index {index}): {', '.join(runners)}")

    result: dict[str, Any] = {"truth": str(labels.path), "split": split, "frames": len(labels.indices),
                              "classes": list(labels.classes), "boxes": labels.box_count}
    for name in models:
        runner = runners[name]
        scores = runner.score(labels)
        result[name] = {"map50": _r(scores["map50"]), "map50_95": _r(scores["map50_95"]),
                        "ms_per_frame": _r(np.median(runner.ms), 3),
                        "infer_ms_per_frame": _r(np.median(runner.infer_ms), 3),
                        "model": str(runner.path), "per_class_ap50": scores["per_class_ap50"]}
    ceiling_map50 = teacher_ms = None
    if ceiling:
        t = runners[TEACHER]
        scores = t.score(labels)
        ceiling_map50, teacher_ms = _r(scores["map50"]), _r(np.median(t.ms), 3)
        result["ceiling"] = {"map50": ceiling_map50, "map50_95": _r(scores["map50_95"]),
                             "per_class_ap50": scores["per_class_ap50"], "model": str(t.path),
                             "infer_ms_per_frame": _r(np.median(t.infer_ms), 3)}
    result["ceiling_map50"] = ceiling_map50
    result["teacher"] = teacher if ceiling else None
    result["teacher_ms_per_frame"] = teacher_ms
    result["ratios"] = _ratios(result, list(models), ceiling_map50, teacher_ms)
    result["conf_threshold"] = EVAL_CONF
    result["timing_conf_threshold"] = DetectorConfig().conf_threshold
    result["threads"] = threads
    return result


def _ratios(result: dict[str, Any], names: list[str], ceiling: float | None,
            teacher_ms: float | None) -> dict[str, float | None]:
    ratios: dict[str, float | None] = {}
    for name in names:
        m = result[name]
        ratios[f"{name}_of_ceiling"] = _r(m["map50"] / ceiling) if ceiling and m["map50"] is not None else None
        ratios[f"{name}_speedup_vs_teacher"] = _r(teacher_ms / m["ms_per_frame"]) \
            if teacher_ms and m["ms_per_frame"] else None
    if "fp32" in names and "int8" in names and None not in (result["fp32"]["map50"], result["int8"]["map50"]):
        ratios["int8_minus_fp32_map50"] = _r(result["int8"]["map50"] - result["fp32"]["map50"])
    return ratios


def _existing(given: str, base: Path) -> Path | None:
    path = Path(given).expanduser()
    for candidate in (path, base / path, base / path.name):
        if candidate.is_file():
            return candidate
    return None


def models_from_record(path: Path) -> tuple[dict[str, Path], Path | None]:
    """The FP32 and INT8 models (and the label file, when there) of a ``rsu model distill`` output folder or
    its ``record.json`` (``models.fp32`` / ``models.int8``, paths as written or beside the record; a
    ``NAME.record.json`` also finds ``NAME-fp32.onnx`` / ``NAME-int8.onnx`` beside it).

    :raises TruthError: not a readable record, or no model found from it.
    """
    record_path = path / "record.json" if path.is_dir() else path
    if not record_path.is_file():
        raise TruthError(f"{path}: no record.json (expected a `rsu model distill` output folder or its record)")
    try:
        record = json.loads(record_path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise TruthError(f"{record_path}: not a readable record ({exc})") from None
    if not isinstance(record, dict):
        raise TruthError(f"{record_path}: expected a JSON object")
    base = record_path.parent
    stem = record_path.name.removesuffix(".json").removesuffix(".record")
    listed = record.get("models") if isinstance(record.get("models"), dict) else {}
    found: dict[str, Path] = {}
    for name in ("fp32", "int8"):
        entry = listed.get(name)
        given = entry.get("path") if isinstance(entry, dict) else entry
        hit = _existing(given, base) if isinstance(given, str) else None
        hit = hit or _existing(f"{stem}-{name}.onnx", base) or _existing(f"student_{name}.onnx", base)
        if hit is not None:
            found[name] = hit
    if not found:
        raise TruthError(f"{record_path}: no model file found (models.fp32 / models.int8 missing on disk)")
    data = record.get("data") if isinstance(record.get("data"), dict) else {}
    labels = data.get("labels")
    truth = _existing(labels, base) if isinstance(labels, str) else None
    return found, truth
