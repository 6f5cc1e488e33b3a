"""The aggregator's wire format (``rsu.fed/1``), ZeroMQ multipart with an empty delimiter first.

Requests ``[b"", b"rsu.fed/1", header JSON, body?]``:
- ``{"op": "update", "id", "box", "model", "base_version", "samples", "metrics"}`` + the weights (``.npz``);
  reply ``{"id", "status": "accepted" | "rejected", "error"?, "version"}`` (the latest stored version);
- ``{"op": "latest", "id", "model", "have"}``; reply ``{"id", "status": "ok", "version", "sha256",
  "contributors", "samples"}``, followed by the ONNX bytes when ``version > have``.
"""

from __future__ import annotations

import json
from typing import Any

__all__ = ["PROTOCOL", "WireError", "pack", "unpack"]

PROTOCOL = b"rsu.fed/1"


class WireError(ValueError):
    """Not an ``rsu.fed/1`` message."""


def pack(doc: dict[str, Any], *body: bytes) -> list[bytes]:
    return [b"", PROTOCOL, json.dumps(doc, separators=(",", ":")).encode("utf-8"), *body]


def unpack(frames: list[bytes]) -> tuple[dict[str, Any], list[bytes]]:
    if frames and frames[0] == b"":
        frames = frames[1:]
    if len(frames) < 2 or frames[0] != PROTOCOL:
        raise WireError(f"expected [{PROTOCOL.decode()}, header, ...], got {len(frames)} frame(s)")
    try:
        doc = json.loads(frames[1].decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise WireError(f"header is not UTF-8 JSON: {exc}") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("id"), int):
        raise WireError("header must be a JSON object with an integer 'id'")
    return doc, frames[2:]
