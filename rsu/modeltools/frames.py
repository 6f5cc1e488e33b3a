"""Real frames for calibration and benchmarks: images from a folder or files, or frames of a video."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path

import cv2
import numpy as np

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff"}
VIDEO_SUFFIXES = {".avi", ".mp4", ".mkv", ".mov", ".webm", ".mpg", ".mpeg", ".m4v"}


def _read_image(path: Path) -> np.ndarray:
    img = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if img is None:
        raise ValueError(f"cannot read image {path}")
    return img


def _video_frames(path: Path, limit: int) -> list[np.ndarray]:
    cap = cv2.VideoCapture(str(path))
    if not cap.isOpened():
        raise ValueError(f"cannot open video {path}")
    try:
        total = int(cap.get(cv2.CAP_PROP_FRAME_COUNT)) or limit
        wanted = set(np.linspace(0, max(total - 1, 0), num=min(limit, max(total, 1))).astype(int).tolist())
        out: list[np.ndarray] = []
        index = 0
        while len(out) < len(wanted):
            ok, frame = cap.read()
            if not ok:
                break
            if index in wanted:
                out.append(frame)
            index += 1
    finally:
        cap.release()
    if not out:
        raise ValueError(f"video {path} has no readable frames")
    return out


def load_frames(sources: Sequence[str | Path], limit: int = 32) -> list[np.ndarray]:
    """BGR frames from image files, folders of images and videos, at most ``limit`` (spread over videos).

    :raises ValueError: a path that does not exist, is unreadable, or when nothing was found.
    """
    frames: list[np.ndarray] = []
    for src in sources:
        path = Path(src)
        if path.is_dir():
            files = sorted(p for p in path.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES | VIDEO_SUFFIXES)
            if not files:
                raise ValueError(f"no images or videos in folder {path}")
            frames.extend(load_frames(files, limit - len(frames)))
        elif path.suffix.lower() in VIDEO_SUFFIXES:
            frames.extend(_video_frames(path, limit - len(frames)))
        elif path.is_file():
            frames.append(_read_image(path))
        else:
            raise ValueError(f"calibration source not found: {path}")
        if len(frames) >= limit:
            break
    if not frames:
        raise ValueError("no calibration frames found")
    return frames[:limit]


def bundled_images() -> list[Path]:
    """The street scenes shipped in the ultralytics wheel (``bus.jpg``, ``zidane.jpg``); empty without it."""
    from importlib.util import find_spec

    spec = find_spec("ultralytics")
    if spec is None or not spec.submodule_search_locations:
        return []
    assets = Path(next(iter(spec.submodule_search_locations))) / "assets"
    return sorted(p for p in assets.glob("*.jpg"))


def augment(frames: Sequence[np.ndarray]) -> Iterator[np.ndarray]:
    """Each frame, then its mirror image: twice the calibration variety from few stills."""
    for f in frames:
        yield f
    for f in frames:
        yield np.ascontiguousarray(f[:, ::-1])
