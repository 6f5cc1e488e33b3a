"""``rsu detect IMAGE|VIDEO [--model M] [--json]``: run the detector on a file, one line per frame."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff"}


def _frames(path: Path, every: int, max_frames: int | None):
    """Yield ``(index, t_ms, image)``; an image file is one frame. Unreadable frames are counted, not fatal."""
    import cv2

    if path.suffix.lower() in IMAGE_SUFFIXES:
        image = cv2.imread(str(path), cv2.IMREAD_COLOR)
        if image is None:
            raise click.ClickException(f"{path}: not an image OpenCV can decode")
        yield 0, 0.0, image
        return
    cap = cv2.VideoCapture(str(path))
    if not cap.isOpened():
        raise click.ClickException(f"{path}: not a video OpenCV can decode")
    index = emitted = 0
    try:
        while max_frames is None or emitted < max_frames:
            ok, image = cap.read()
            if not ok or image is None:
                break
            if index % every == 0:
                yield index, float(cap.get(cv2.CAP_PROP_POS_MSEC)), image
                emitted += 1
            index += 1
    finally:
        cap.release()
    if index == 0:
        raise click.ClickException(f"{path}: no frame could be decoded")


@click.command("detect")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--model", "model", help="model file or fetched asset name (default: the config's, else nanodet-m)")
@click.option("--config", "config", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="take models.detector from this config")
@click.option("--conf", "conf", type=click.FloatRange(0, 1), help="confidence threshold")
@click.option("--json", "as_json", is_flag=True, help="one JSON object per frame")
@click.option("--every", default=1, type=click.IntRange(1), help="videos: every Nth frame")
@click.option("--max-frames", type=click.IntRange(1), help="videos: stop after N processed frames")
def command(path: Path, model: str | None, config: Path | None, conf: float | None, as_json: bool, every: int,
            max_frames: int | None) -> None:
    """Detect objects in IMAGE or VIDEO with the configured detector; boxes in pixels x1,y1,x2,y2."""
    from rsu.config import ConfigError, load_config
    from rsu.config.models import DetectorConfig
    from rsu.inference.detector import Detector, ModelError

    cfg = DetectorConfig()
    if config is not None:
        try:
            cfg = load_config(config).models.detector
        except ConfigError as exc:
            raise click.ClickException(f"{exc.source}: " + "; ".join(exc.problems)) from None
    if conf is not None:
        cfg = cfg.model_copy(update={"conf_threshold": conf})
    try:
        detector = Detector.from_config(cfg, model=model)
    except ModelError as exc:
        raise click.ClickException(str(exc)) from None
    for index, t_ms, image in _frames(path, every, max_frames):
        dets = detector.detect_image(image, source=path.name, frame_id=index)
        objs = [{"class": name, "class_id": int(cid), "score": round(float(score), 4),
                 "box": [round(float(v), 1) for v in box]}
                for name, cid, score, box in zip(dets.labels, dets.class_id, dets.confidence, dets.xyxy)]
        if as_json:
            click.echo(json.dumps({"frame": index, "t_ms": round(t_ms, 1), "source": path.name,
                                   "width": dets.image_size[0], "height": dets.image_size[1],
                                   "model": detector.backend.path.name, "detections": objs},
                                  separators=(",", ":")))
        else:
            text = ", ".join(f"{o['class']} {o['score']:.2f}" for o in objs) or "-"
            click.echo(f"frame {index}: {len(objs)} objects: {text}")
        sys.stdout.flush()
