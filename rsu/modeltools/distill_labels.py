"""Teacher labels for distillation: the teacher detector labels the frames of a site video, split by time.

The split is by time, never by random frames: consecutive frames are near copies, so a random split would put
the same people in train and test. The first ``train_frac`` of the video is the training part, minus a gap at
its end (frames in neither part), and the rest is held out. Frames are addressed by index as OpenCV decodes
the video from the start. The file written is ``labels.json`` (format ``rsu-teacher-labels/1``), the truth
``rsu eval detector --truth`` reads.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

FORMAT = "rsu-teacher-labels/1"
# Classes a road camera needs, in the student's order; the student keeps those the teacher reports in the scene.
ROAD_CLASSES = ("person", "bicycle", "car", "motorcycle", "bus", "truck")

Progress = Callable[[str], None]


def _quiet(_: str) -> None:
    pass


@dataclass(frozen=True, slots=True, kw_only=True)
class Split:
    """Half-open frame-index ranges, in time order: ``train``, then ``gap``, then ``held_out``."""

    train: tuple[int, int]
    gap: tuple[int, int]
    held_out: tuple[int, int]

    def of(self, index: int) -> str | None:
        """The part frame ``index`` belongs to (None past the end)."""
        for name in ("train", "gap", "held_out"):
            lo, hi = getattr(self, name)
            if lo <= index < hi:
                return name
        return None

    def as_dict(self) -> dict[str, list[int]]:
        return {"train": list(self.train), "gap": list(self.gap), "held_out": list(self.held_out)}


def time_split(total: int, train_frac: float = 0.8, gap_frames: int | None = None) -> Split:
    """Held-out part from ``round(total * train_frac)`` to the end; the ``gap_frames`` before it (default 2% of
    the video, at least one frame) are left out; the training part is everything before the gap.

    :raises ValueError: a fraction outside (0, 1) or a video too short for three non-empty parts.
    """
    if not 0.0 < train_frac < 1.0:
        raise ValueError(f"--train-frac must lie in (0, 1), got {train_frac}")
    gap = max(1, round(total * 0.02)) if gap_frames is None else gap_frames
    if gap < 0:
        raise ValueError(f"--gap-frames must be >= 0, got {gap}")
    held = round(total * train_frac)
    train_end = held - gap
    if train_end < 1 or held >= total:
        raise ValueError(f"{total} frames are too few for a time split with train fraction {train_frac} and a "
                         f"gap of {gap} frames (each part needs frames)")
    return Split(train=(0, train_end), gap=(train_end, held), held_out=(held, total))


def video_frames(video: Path, limit: int | None = None) -> Iterator[tuple[int, np.ndarray]]:
    """``(index, BGR frame)`` in decode order, at most ``limit``.

    :raises ValueError: a video OpenCV cannot open, or one without a readable frame.
    """
    import cv2

    cap = cv2.VideoCapture(str(video))
    if not cap.isOpened():
        raise ValueError(f"cannot open video {video} (not a video file OpenCV can decode)")
    index = 0
    try:
        while limit is None or index < limit:
            ok, frame = cap.read()
            if not ok:
                break
            yield index, frame
            index += 1
    finally:
        cap.release()
    if index == 0:
        raise ValueError(f"video {video} has no readable frames")


def probe_video(video: Path, limit: int | None = None) -> tuple[int, int, int]:
    """``(frames, width, height)`` by decoding (container frame counts can be wrong)."""
    count, size = 0, (0, 0)
    for count, frame in video_frames(video, limit):
        size = (int(frame.shape[1]), int(frame.shape[0]))
    return count + 1, size[0], size[1]


class Teacher:
    """The teacher detector (one of rsu's, through :class:`rsu.inference.detector.Detector`), optionally with a
    second, horizontally flipped pass merged in (test-time augmentation: union, then class-aware NMS)."""

    def __init__(self, model: str, conf: float, flip_tta: bool = False, threads: int | None = None) -> None:
        from rsu.config.models import DetectorConfig
        from rsu.inference.detector import Detector

        self.model, self.conf, self.flip_tta = model, conf, flip_tta
        cfg = DetectorConfig(model=model, conf_threshold=conf, threads=threads, allow_spinning=False)
        self.detector = Detector.from_config(cfg)
        self.iou = cfg.iou_threshold

    def __call__(self, image: np.ndarray) -> list[tuple[np.ndarray, str, float]]:
        """``(xyxy, class name, score)`` per box, in image pixels."""
        from rsu.inference.nms import batched_nms

        det = self.detector.detect_image(image)
        boxes, scores, cls = det.xyxy, det.confidence, det.class_id
        if self.flip_tta:
            w = image.shape[1]
            flipped = self.detector.detect_image(np.ascontiguousarray(image[:, ::-1]))
            fb = flipped.xyxy.copy()
            fb[:, [0, 2]] = w - flipped.xyxy[:, [2, 0]]
            boxes = np.concatenate([boxes, fb])
            scores = np.concatenate([scores, flipped.confidence])
            cls = np.concatenate([cls, flipped.class_id])
            keep = batched_nms(boxes, scores, cls, self.iou)
            boxes, scores, cls = boxes[keep], scores[keep], cls[keep]
        names = self.detector.class_names
        return [(boxes[i], names[int(cls[i])], float(scores[i])) for i in range(len(scores))]


def choose_classes(frames: list[dict[str, Any]], min_boxes: int = 3) -> list[str]:
    """The road classes the teacher reported at least ``min_boxes`` times, in :data:`ROAD_CLASSES` order."""
    counts: dict[str, int] = {}
    for f in frames:
        for box in f["boxes"]:
            counts[box[4]] = counts.get(box[4], 0) + 1
    return [c for c in ROAD_CLASSES if counts.get(c, 0) >= min_boxes]


def label_video(
    video: Path,
    out: Path,
    *,
    teacher: str = "nanodet-m",
    conf: float = 0.35,
    flip_tta: bool = False,
    train_frac: float = 0.8,
    gap_frames: int | None = None,
    frames_limit: int | None = None,
    classes: list[str] | None = None,
    video_label: str | None = None,
    progress: Progress = _quiet,
) -> dict[str, Any]:
    """Label the train and held-out frames of ``video`` with the teacher; write ``out`` (labels.json).

    ``classes`` fixes the student's classes; by default the road classes the teacher reports (see
    :func:`choose_classes`). Boxes of other classes are dropped (counted in ``dropped``).
    """
    from rsu.core.digest import sha256_file

    total, width, height = probe_video(video, frames_limit)
    split = time_split(total, train_frac, gap_frames)
    progress(f"{video}: {total} frames {width}x{height}; train {split.train}, gap {split.gap}, "
             f"held out {split.held_out}")
    labeller = Teacher(teacher, conf, flip_tta)
    frames: list[dict[str, Any]] = []
    step = max(1, total // 10)
    for index, image in video_frames(video, total):
        part = split.of(index)
        if part == "gap":
            continue
        boxes = [[*(round(float(v), 2) for v in xyxy), name, round(score, 4)] for xyxy, name, score in labeller(image)]
        frames.append({"index": index, "split": part, "boxes": boxes})
        if index % step == 0 or index == total - 1:
            progress(f"teacher {teacher}: frame {index + 1}/{total}")
    if classes is None:
        classes = choose_classes(frames)
    if not classes:
        raise ValueError(f"the teacher {teacher} reported none of {', '.join(ROAD_CLASSES)} in {video}: "
                         "nothing to train a road detector on")
    dropped: dict[str, int] = {}
    for f in frames:
        kept = [b for b in f["boxes"] if b[4] in classes]
        for b in f["boxes"]:
            if b[4] not in classes:
                dropped[b[4]] = dropped.get(b[4], 0) + 1
        f["boxes"] = kept
    labels = {
        "format": FORMAT, "video": video_label or str(video), "video_sha256": sha256_file(video),
        "frames_total": total, "width": width, "height": height,
        "teacher": {"model": teacher, "conf": conf, "flip_tta": flip_tta, "extra": []},
        "classes": list(classes), "split": split.as_dict(), "frames": frames,
    }
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(labels, separators=(",", ":")))
    return {"labels": labels, "dropped": dropped, "counts": box_counts(labels)}


def box_counts(labels: dict[str, Any]) -> dict[str, dict[str, int]]:
    """Boxes per split and class."""
    counts: dict[str, dict[str, int]] = {}
    for f in labels["frames"]:
        per = counts.setdefault(f["split"], {})
        for b in f["boxes"]:
            per[b[4]] = per.get(b[4], 0) + 1
    return counts


def load_labels(path: Path) -> dict[str, Any]:
    """Read a labels.json; :raises ValueError: not a teacher-label file."""
    data = json.loads(path.read_text())
    if data.get("format") != FORMAT:
        raise ValueError(f"{path}: not a teacher label file (format {data.get('format')!r}, expected {FORMAT!r})")
    return data
