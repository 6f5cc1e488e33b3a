"""Teacher label files (``rsu-teacher-labels/1``, written by ``rsu model distill``): load, check, and decode
the frames they label from their video."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["FORMAT", "Truth", "TruthError", "load_truth", "video_frames"]

FORMAT = "rsu-teacher-labels/1"


class TruthError(ValueError):
    """A teacher label file (or its video) is missing, malformed or inconsistent; the message names where."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Truth:
    """The labels of one split: ``boxes[i]`` is ``(N, 4)`` xyxy and ``class_ids[i]`` ``(N,)`` for ``indices[i]``."""

    path: Path
    video: Path
    split: str
    classes: tuple[str, ...]
    width: int
    height: int
    teacher: dict[str, Any]
    indices: tuple[int, ...]
    boxes: tuple[np.ndarray, ...]
    class_ids: tuple[np.ndarray, ...]

    @property
    def box_count(self) -> int:
        return sum(len(b) for b in self.boxes)


def _need(obj: dict[str, Any], key: str, kind: type | tuple[type, ...], where: str) -> Any:
    if key not in obj:
        raise TruthError(f"{where}: missing key {key!r}")
    value = obj[key]
    if not isinstance(value, kind) or isinstance(value, bool):
        name = kind.__name__ if isinstance(kind, type) else " or ".join(k.__name__ for k in kind)
        raise TruthError(f"{where}.{key}: expected {name}, got {type(value).__name__}")
    return value


def _range(doc: dict[str, Any], name: str, where: str) -> tuple[int, int]:
    splits = _need(doc, "split", dict, where)
    if name not in splits:
        raise TruthError(f"{where}.split: no split {name!r} (has {', '.join(map(repr, splits)) or 'none'})")
    value = splits[name]
    if (not isinstance(value, list) or len(value) != 2 or not all(isinstance(v, int) for v in value)
            or value[0] > value[1]):
        raise TruthError(f"{where}.split.{name}: expected [first, end) frame indices, got {value!r}")
    return value[0], value[1]


def _video(doc: dict[str, Any], path: Path, where: str) -> Path:
    from rsu.core.digest import sha256_file

    given = Path(_need(doc, "video", str, where)).expanduser()
    candidates = [given] if given.is_absolute() else [given, path.parent / given]
    video = next((c for c in candidates if c.is_file()), None)
    if video is None:
        raise TruthError(f"{where}.video: {given} not found (looked in {', '.join(str(c) for c in candidates)})")
    want = _need(doc, "video_sha256", str, where).lower()
    got = sha256_file(video)
    if got != want:
        raise TruthError(f"{where}.video_sha256: {video} has sha256 {got}, the labels were made on {want} "
                         "(a different or re-encoded video)")
    return video


def _boxes(frame: dict[str, Any], classes: tuple[str, ...], where: str) -> tuple[np.ndarray, np.ndarray]:
    raw = _need(frame, "boxes", list, where)
    xyxy = np.zeros((len(raw), 4), np.float64)
    ids = np.zeros(len(raw), np.int64)
    for j, box in enumerate(raw):
        here = f"{where}.boxes[{j}]"
        if not isinstance(box, list) or len(box) < 5:
            raise TruthError(f"{here}: expected [x1, y1, x2, y2, class, score], got {box!r}")
        if not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in box[:4]):
            raise TruthError(f"{here}: coordinates must be numbers, got {box[:4]!r}")
        if box[4] not in classes:
            raise TruthError(f"{here}: unknown class {box[4]!r} (the file's classes: {', '.join(classes)})")
        if not (box[2] > box[0] and box[3] > box[1]):
            raise TruthError(f"{here}: empty box {box[:4]!r} (needs x2 > x1 and y2 > y1)")
        xyxy[j] = box[:4]
        ids[j] = classes.index(box[4])
    return xyxy, ids


def load_truth(path: str | Path, split: str = "held_out") -> Truth:
    """Read and check a teacher label file, keep the frames of ``split``, and verify its video's sha256.

    :raises TruthError: naming the file and the key (``frames[3].boxes[1]``) that is wrong.
    """
    path = Path(path)
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise TruthError(f"{path}: no such file") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise TruthError(f"{path}: not a readable JSON label file ({exc})") from None
    where = str(path)
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        got = doc.get("format") if isinstance(doc, dict) else type(doc).__name__
        raise TruthError(f"{where}.format: expected {FORMAT!r}, got {got!r}")
    classes = tuple(_need(doc, "classes", list, where))
    if not classes or not all(isinstance(c, str) and c for c in classes) or len(set(classes)) != len(classes):
        raise TruthError(f"{where}.classes: expected a list of distinct class names, got {list(classes)!r}")
    first, end = _range(doc, split, where)
    width, height = _need(doc, "width", int, where), _need(doc, "height", int, where)
    teacher = doc.get("teacher") if isinstance(doc.get("teacher"), dict) else {}
    indices: list[int] = []
    boxes: list[np.ndarray] = []
    ids: list[np.ndarray] = []
    seen: set[int] = set()
    for i, frame in enumerate(_need(doc, "frames", list, where)):
        here = f"{where}.frames[{i}]"
        if not isinstance(frame, dict):
            raise TruthError(f"{here}: expected an object, got {type(frame).__name__}")
        index = _need(frame, "index", int, here)
        if index in seen:
            raise TruthError(f"{here}.index: frame {index} is labelled twice")
        seen.add(index)
        xyxy, cls = _boxes(frame, classes, here)  # every frame is checked, not only the split's
        if first <= index < end:
            indices.append(index)
            boxes.append(xyxy)
            ids.append(cls)
    if not indices:
        raise TruthError(f"{where}: no labelled frame in split {split!r} [{first}, {end})")
    order = np.argsort(indices, kind="stable")
    return Truth(path=path, video=_video(doc, path, where), split=split, classes=classes, width=width,
                 height=height, teacher=dict(teacher), indices=tuple(indices[k] for k in order),
                 boxes=tuple(boxes[k] for k in order), class_ids=tuple(ids[k] for k in order))


def video_frames(truth: Truth) -> Iterator[tuple[int, np.ndarray]]:
    """``(index, BGR image)`` for each frame of ``truth``, decoded from the start of the video in order
    (frame i is the i-th ``cv2.VideoCapture.read()``, as the labels were made).

    :raises TruthError: the video ends early or its frames are not the labelled size.
    """
    import cv2

    wanted = set(truth.indices)
    last = max(wanted)
    cap = cv2.VideoCapture(str(truth.video))
    if not cap.isOpened():
        raise TruthError(f"{truth.video}: cannot open the video")
    try:
        for index in range(last + 1):
            ok, image = cap.read()
            if not ok:
                raise TruthError(f"{truth.video}: ends after {index} frames; {truth.path} labels frame {last}")
            if index in wanted:
                if image.shape[:2] != (truth.height, truth.width):
                    raise TruthError(f"{truth.video}: frame {index} is {image.shape[1]}x{image.shape[0]}, "
                                     f"{truth.path} says {truth.width}x{truth.height}")
                yield index, image
    finally:
        cap.release()
