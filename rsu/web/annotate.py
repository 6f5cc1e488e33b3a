"""Draw detections, track ids and projected radar objects on a camera image (OpenCV, Hershey font only).

Every function draws in place on a BGR image that is already scaled by ``scale`` from the camera's pixels.
"""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np

from rsu_sdk import Detections, FusedObject

from rsu.fusion.calibration import CameraModel
from rsu.web.views import DEFAULT_SIZES

__all__ = ["class_colour", "draw_detections", "draw_tracks", "draw_radar", "draw_ground_grid", "draw_caption",
           "schematic_canvas"]

_FONT = cv2.FONT_HERSHEY_SIMPLEX
_PALETTE = {
    "person": (80, 200, 255), "pedestrian": (80, 200, 255), "bicycle": (255, 180, 60), "car": (90, 220, 90),
    "truck": (60, 120, 255), "bus": (60, 120, 255), "motorcycle": (255, 120, 200), "vehicle": (90, 220, 90),
}
TRACK_COLOUR = (0, 230, 255)   # yellow
RADAR_COLOUR = (255, 255, 0)   # cyan


def class_colour(name: str) -> tuple[int, int, int]:
    return _PALETTE.get(name.lower(), (200, 200, 200))


def _label(img: np.ndarray, text: str, x: int, y: int, colour: tuple[int, int, int], size: float = 0.45) -> None:
    """A filled label box with dark text, kept inside the image."""
    (tw, th), base = cv2.getTextSize(text, _FONT, size, 1)
    h, w = img.shape[:2]
    x = int(min(max(0, x), max(0, w - tw - 4)))
    y = int(min(max(th + base + 2, y), h - 1))
    cv2.rectangle(img, (x, y - th - base - 2), (x + tw + 4, y), colour, -1)
    cv2.putText(img, text, (x + 2, y - base), _FONT, size, (20, 20, 20), 1, cv2.LINE_AA)


def draw_detections(img: np.ndarray, dets: Detections, scale: float) -> int:
    """Boxes with class and score (and ``#id`` when tracked); returns how many were drawn."""
    tracks = dets.track_id
    for i, ((x1, y1, x2, y2), name, score) in enumerate(zip(dets.xyxy.tolist(), dets.labels,
                                                            dets.confidence.tolist())):
        colour = class_colour(name)
        p1, p2 = (int(x1 * scale), int(y1 * scale)), (int(x2 * scale), int(y2 * scale))
        cv2.rectangle(img, p1, p2, colour, 2, cv2.LINE_AA)
        tid = int(tracks[i]) if tracks is not None and tracks[i] >= 0 else None
        text = f"{name} {score:.2f}" if tid is None else f"#{tid} {name} {score:.2f}"
        _label(img, text, p1[0], p1[1] - 1, colour)
    return len(dets)


def draw_tracks(img: np.ndarray, objects: Sequence[FusedObject], model: CameraModel, scale: float) -> int:
    """Fused tracks projected into the image (upright boxes from the calibration) with their track id."""
    shown = [o for o in objects if o.state != "tentative"]
    if not shown:
        return 0
    en = np.array([o.position_enu[:2] for o in shown], dtype=np.float64)
    visible = model.in_view(en)
    if not visible.any():
        return 0
    sel = [o for o, v in zip(shown, visible) if v]
    sizes = np.array([o.size or DEFAULT_SIZES.get(o.class_name, (1.0, 1.0, 1.5)) for o in sel], dtype=np.float64)
    boxes = model.project_boxes(en[visible], sizes, [o.heading_deg for o in sel]) * scale
    for obj, (x1, y1, x2, y2) in zip(sel, boxes.tolist()):
        if not all(np.isfinite([x1, y1, x2, y2])):
            continue
        p1, p2 = (int(x1), int(y1)), (int(x2), int(y2))
        cv2.rectangle(img, p1, p2, TRACK_COLOUR, 1, cv2.LINE_AA)
        _label(img, f"T{obj.track_id} {obj.class_name} {obj.speed_mps * 3.6:.0f} km/h", p1[0], p2[1] + 16,
               TRACK_COLOUR, 0.4)
    return len(sel)


def draw_radar(img: np.ndarray, en: np.ndarray, ids: Sequence[int], model: CameraModel, scale: float) -> int:
    """Radar objects (ENU ground points) projected into the image as crosses with the radar's object id."""
    if len(en) == 0:
        return 0
    visible = model.in_view(en)
    if not visible.any():
        return 0
    uv = model.ground_to_image(en[visible]) * scale
    sel_ids = [i for i, v in zip(ids, visible) if v]
    for (u, v), oid in zip(uv.tolist(), sel_ids):
        p = (int(u), int(v))
        cv2.drawMarker(img, p, RADAR_COLOUR, cv2.MARKER_TILTED_CROSS, 14, 2, cv2.LINE_AA)
        cv2.putText(img, f"R{oid}", (p[0] + 8, p[1] - 6), _FONT, 0.4, RADAR_COLOUR, 1, cv2.LINE_AA)
    return len(sel_ids)


def draw_ground_grid(img: np.ndarray, model: CameraModel, scale: float, step_m: float = 10.0,
                     extent_m: float = 100.0) -> None:
    """Lines every ``step_m`` on the ground plane, as far as the camera sees them."""
    ticks = np.arange(-extent_m, extent_m + step_m / 2, step_m)
    fine = np.linspace(-extent_m, extent_m, 81)
    for t in ticks:
        for line in (np.c_[np.full_like(fine, t), fine], np.c_[fine, np.full_like(fine, t)]):
            ok = model.in_view(line)
            uv = model.ground_to_image(line) * scale
            pts = [(int(u), int(v)) for (u, v), good in zip(uv.tolist(), ok) if good]
            for a, b in zip(pts, pts[1:]):
                cv2.line(img, a, b, (70, 78, 70), 1, cv2.LINE_AA)


def schematic_canvas(model: CameraModel, scale: float) -> np.ndarray:
    """A dark image the size of the camera's (scaled) with its ground grid: the view of a camera whose
    detections arrive without images (a recording, a smart camera)."""
    w, h = (max(1, int(round(d * scale))) for d in model.image_size)
    img = np.full((h, w, 3), (38, 34, 30), np.uint8)
    draw_ground_grid(img, model, scale)
    return img


def draw_caption(img: np.ndarray, lines: Sequence[str]) -> None:
    """White text on a dark band at the top-left."""
    y = 18
    for text in lines:
        (tw, th), _ = cv2.getTextSize(text, _FONT, 0.5, 1)
        cv2.rectangle(img, (4, y - th - 4), (12 + tw, y + 5), (0, 0, 0), -1)
        cv2.putText(img, text, (8, y), _FONT, 0.5, (255, 255, 255), 1, cv2.LINE_AA)
        y += th + 10
