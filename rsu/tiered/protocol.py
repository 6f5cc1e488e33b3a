"""The offload wire format (``rsu.infer/1``), ZeroMQ multipart, an empty delimiter first (REQ-compatible).

Request ``[b"", b"rsu.infer/1", header, jpeg]``: header is UTF-8 JSON ``{"id", "source", "frame_id",
"t_event_ns", "size": [w, h] of the original frame, "scale": sent size / original size}``; the JPEG is the frame
with the privacy blur already applied.
Reply ``[b"", b"rsu.infer/1", body]``: ``{"id", "status": "ok" | "error" | "dropped", "error"?, "infer_ms",
"class_names", "xyxy" (in the sent image's pixels), "confidence", "class_id"}``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np
from rsu_sdk import Detections

from rsu.net.zmq_frames import FrameCodec
from rsu.tiered.jpeg import ImageLimits, ImageRejected, decode_limited

__all__ = ["PROTOCOL", "ProtocolError", "encode_jpeg", "decode_jpeg", "pack", "unpack", "detections_body",
           "sent_size", "Reply", "MAX_BOXES", "MAX_CLASS_NAMES"]

PROTOCOL = b"rsu.infer/1"
MAX_BOXES = 1000  # more boxes than this in one answer is not a detector's output
MAX_CLASS_NAMES = 1000
MAX_NAME_CHARS = 100
BOX_SLACK_PX = 1.0  # boxes may pass the image edge by rounding, not more


class ProtocolError(ValueError):
    """A message that is not ``rsu.infer/1``; the message says what is wrong with it."""


def encode_jpeg(image: np.ndarray, quality: int, max_side: int | None = None) -> tuple[bytes, float]:
    """JPEG bytes of ``image`` (downscaled so its longest side is at most ``max_side``) and the scale used."""
    h, w = image.shape[:2]
    scale = 1.0
    if max_side is not None and max(h, w) > max_side:
        scale = max_side / max(h, w)
        image = cv2.resize(image, (max(1, round(w * scale)), max(1, round(h * scale))), interpolation=cv2.INTER_AREA)
    ok, buf = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, int(quality)])
    if not ok:
        raise ProtocolError(f"cannot JPEG-encode a {w}x{h} frame")
    return buf.tobytes(), scale


def decode_jpeg(data: bytes, limits: ImageLimits | None = None) -> np.ndarray:
    """The image in a request body, checked against ``limits`` before decoding (see :mod:`rsu.tiered.jpeg`)."""
    try:
        return decode_limited(data, limits or ImageLimits())
    except ImageRejected as exc:
        raise ProtocolError(str(exc)) from None


_codec = FrameCodec(PROTOCOL, ProtocolError)
pack = _codec.pack
unpack = _codec.unpack


def detections_body(req_id: int, dets: Detections, infer_ms: float) -> dict[str, Any]:
    return {"id": req_id, "status": "ok", "infer_ms": round(infer_ms, 3), "class_names": list(dets.class_names),
            "xyxy": np.round(dets.xyxy, 2).tolist(), "confidence": np.round(dets.confidence, 4).tolist(),
            "class_id": dets.class_id.tolist()}


def sent_size(size: tuple[int, int], scale: float) -> tuple[int, int]:
    """The ``(width, height)`` :func:`encode_jpeg` sends for a frame of ``size`` at ``scale``."""
    w, h = size
    return (w, h) if scale == 1.0 else (max(1, round(w * scale)), max(1, round(h * scale)))


def _array(doc: dict[str, Any], key: str, dtype: type, ndim: int) -> np.ndarray:
    value = doc.get(key)
    if not isinstance(value, list):
        raise ProtocolError(f"reply {doc.get('id')}: {key!r} must be a list, got {type(value).__name__}")
    if len(value) > MAX_BOXES:
        raise ProtocolError(f"reply {doc.get('id')}: {len(value)} entries in {key!r}, more than {MAX_BOXES}")
    try:
        arr = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ProtocolError(f"reply {doc.get('id')}: {key!r} is not numeric ({exc})") from None
    if not value:
        arr = arr.reshape((0, 4) if ndim == 2 else (0,))
    if arr.ndim != ndim or (ndim == 2 and arr.shape[1] != 4):
        raise ProtocolError(f"reply {doc.get('id')}: {key!r}: expected shape {'(N, 4)' if ndim == 2 else '(N,)'}, "
                            f"got {arr.shape}")
    if not np.isfinite(arr).all():
        raise ProtocolError(f"reply {doc.get('id')}: {key!r} holds NaN or infinite values")
    if dtype is np.int32:
        if (arr != np.round(arr)).any() or (np.abs(arr) > 2**31 - 1).any():
            raise ProtocolError(f"reply {doc.get('id')}: {key!r} must hold integers")
    return arr.astype(dtype)


@dataclass(frozen=True, slots=True)
class Reply:
    """An ``ok`` answer: boxes in the sent image's pixels."""

    id: int
    xyxy: np.ndarray
    confidence: np.ndarray
    class_id: np.ndarray
    class_names: tuple[str, ...]
    infer_ms: float

    @classmethod
    def from_doc(cls, doc: dict[str, Any], image_size: tuple[int, int] | None = None) -> Reply:
        """Check an ``ok`` answer: shapes, finite values, scores in [0, 1], class ids in range and, with
        ``image_size`` (the sent image's ``(width, height)``), boxes inside the image; ProtocolError otherwise."""
        rid = doc.get("id")
        if isinstance(rid, bool) or not isinstance(rid, int):
            raise ProtocolError(f"reply: 'id' must be an integer, got {str(rid)[:32]!r}")
        xyxy = _array(doc, "xyxy", np.float32, 2)
        conf = _array(doc, "confidence", np.float32, 1)
        cls_id = _array(doc, "class_id", np.int32, 1)
        names = doc.get("class_names")
        if not isinstance(names, list) or len(names) > MAX_CLASS_NAMES \
                or not all(isinstance(n, str) and 0 < len(n) <= MAX_NAME_CHARS for n in names):
            raise ProtocolError(f"reply {rid}: 'class_names' must be a list of at most {MAX_CLASS_NAMES} names of "
                                f"1-{MAX_NAME_CHARS} characters")
        if not (len(xyxy) == len(conf) == len(cls_id)):
            raise ProtocolError(f"reply {rid}: {len(xyxy)} boxes, {len(conf)} scores, {len(cls_id)} classes")
        if len(cls_id) and (cls_id.min() < 0 or cls_id.max() >= len(names)):
            raise ProtocolError(f"reply {rid}: class id out of range of {len(names)} class names")
        if len(conf) and (conf.min() < 0 or conf.max() > 1):
            raise ProtocolError(f"reply {rid}: scores must lie in [0, 1], got {conf.min():g}..{conf.max():g}")
        if len(xyxy) and ((xyxy[:, 2] < xyxy[:, 0]).any() or (xyxy[:, 3] < xyxy[:, 1]).any()):
            raise ProtocolError(f"reply {rid}: a box with x2 < x1 or y2 < y1")
        if len(xyxy) and image_size is not None:
            w, h = image_size
            s = BOX_SLACK_PX
            if xyxy.min() < -s or (xyxy[:, [0, 2]] > w + s).any() or (xyxy[:, [1, 3]] > h + s).any():
                raise ProtocolError(f"reply {rid}: a box outside the {w}x{h} image that was sent")
        infer_ms = doc.get("infer_ms", 0.0)
        if isinstance(infer_ms, bool) or not isinstance(infer_ms, (int, float)) or not 0 <= infer_ms < 1e7:
            raise ProtocolError(f"reply {rid}: 'infer_ms' must be a non-negative number, got {infer_ms!r}")
        return cls(int(rid), xyxy, conf, cls_id, tuple(names), float(infer_ms))
