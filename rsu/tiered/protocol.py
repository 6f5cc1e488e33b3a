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

from rsu.net.frames import FrameCodec

__all__ = ["PROTOCOL", "ProtocolError", "encode_jpeg", "decode_jpeg", "pack", "unpack", "detections_body",
           "Reply"]

PROTOCOL = b"rsu.infer/1"


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


def decode_jpeg(data: bytes) -> np.ndarray:
    image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    if image is None:
        raise ProtocolError(f"request body is not a decodable JPEG ({len(data)} bytes)")
    return image


_codec = FrameCodec(PROTOCOL, ProtocolError)
pack = _codec.pack
unpack = _codec.unpack


def detections_body(req_id: int, dets: Detections, infer_ms: float) -> dict[str, Any]:
    return {"id": req_id, "status": "ok", "infer_ms": round(infer_ms, 3), "class_names": list(dets.class_names),
            "xyxy": np.round(dets.xyxy, 2).tolist(), "confidence": np.round(dets.confidence, 4).tolist(),
            "class_id": dets.class_id.tolist()}


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
    def from_doc(cls, doc: dict[str, Any]) -> Reply:
        try:
            xyxy = np.asarray(doc["xyxy"], dtype=np.float32).reshape(-1, 4)
            conf = np.asarray(doc["confidence"], dtype=np.float32).reshape(-1)
            cls_id = np.asarray(doc["class_id"], dtype=np.int32).reshape(-1)
            names = tuple(str(n) for n in doc["class_names"])
        except (KeyError, TypeError, ValueError) as exc:
            raise ProtocolError(f"reply {doc.get('id')}: bad detections ({type(exc).__name__}: {exc})") from None
        if not (len(xyxy) == len(conf) == len(cls_id)):
            raise ProtocolError(f"reply {doc['id']}: {len(xyxy)} boxes, {len(conf)} scores, {len(cls_id)} classes")
        if len(cls_id) and (cls_id.min() < 0 or cls_id.max() >= len(names)):
            raise ProtocolError(f"reply {doc['id']}: class id out of range of {len(names)} class names")
        return cls(int(doc["id"]), xyxy, conf, cls_id, names, float(doc.get("infer_ms", 0.0)))
