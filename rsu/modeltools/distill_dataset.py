"""A YOLO-format training set from teacher labels: ``images/`` (JPEG), ``labels/`` (one txt per image:
``class cx cy w h``, normalised), ``train.txt``, ``val.txt`` and ``data.yaml`` for the ultralytics trainer.

Only train-split frames go in: the held-out frames stay unseen. ``val.txt`` is every ``val_every``-th training
frame; the trainer's own validation is a progress signal only (the held-out evaluation is done by
``rsu.eval.detector``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from rsu.modeltools.distill_labels import video_frames


def yolo_lines(boxes: list[list[Any]], classes: list[str], width: int, height: int) -> list[str]:
    """``class cx cy w h`` lines (normalised to the image), boxes clipped to the image; empty boxes dropped."""
    lines = []
    for x1, y1, x2, y2, name, _score in boxes:
        x1, x2 = (min(max(float(v), 0.0), width) for v in (x1, x2))
        y1, y2 = (min(max(float(v), 0.0), height) for v in (y1, y2))
        if x2 <= x1 or y2 <= y1:
            continue
        cx, cy = (x1 + x2) / 2 / width, (y1 + y2) / 2 / height
        lines.append(f"{classes.index(name)} {cx:.6f} {cy:.6f} {(x2 - x1) / width:.6f} {(y2 - y1) / height:.6f}")
    return lines


def write_dataset(video: Path, labels: dict[str, Any], folder: Path, *, val_every: int = 10) -> dict[str, Any]:
    """Write the training set of ``labels`` (frames decoded again from ``video``) into ``folder``."""
    import cv2
    import yaml

    images, label_dir = folder / "images", folder / "labels"
    images.mkdir(parents=True, exist_ok=True)
    label_dir.mkdir(parents=True, exist_ok=True)
    train = {f["index"]: f for f in labels["frames"] if f["split"] == "train"}
    if not train:
        raise ValueError("no training frames in the labels")
    last = max(train)
    written: list[Path] = []
    for index, image in video_frames(video, last + 1):
        frame = train.get(index)
        if frame is None:
            continue
        name = f"frame_{index:06d}"
        path = images / f"{name}.jpg"
        if not cv2.imwrite(str(path), image, [cv2.IMWRITE_JPEG_QUALITY, 95]):
            raise OSError(f"cannot write {path}")
        lines = yolo_lines(frame["boxes"], labels["classes"], labels["width"], labels["height"])
        (label_dir / f"{name}.txt").write_text("".join(f"{line}\n" for line in lines))
        written.append(path)
    val = written[::val_every] or written[:1]
    (folder / "train.txt").write_text("".join(f"{p.resolve()}\n" for p in written))
    (folder / "val.txt").write_text("".join(f"{p.resolve()}\n" for p in val))
    data = {"path": str(folder.resolve()), "train": "train.txt", "val": "val.txt",
            "names": dict(enumerate(labels["classes"])), "nc": len(labels["classes"])}
    (folder / "data.yaml").write_text(yaml.safe_dump(data, sort_keys=False))
    return {"data_yaml": str(folder / "data.yaml"), "train_images": len(written), "val_images": len(val)}


def calibration_images(folder: Path, count: int = 48) -> list[Path]:
    """``count`` training images evenly spread over time (INT8 calibration on the site's own frames)."""
    images = sorted((folder / "images").glob("*.jpg"))
    if not images:
        raise ValueError(f"no training images in {folder / 'images'}")
    picks = np.unique(np.linspace(0, len(images) - 1, num=min(count, len(images))).astype(int))
    return [images[i] for i in picks]
