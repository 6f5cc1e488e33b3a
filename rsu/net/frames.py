"""A tagged ZeroMQ multipart request/reply format: ``[b"", PROTOCOL, header JSON, body...]``.

The empty first frame keeps it REQ-compatible; ``PROTOCOL`` (e.g. ``b"rsu.infer/1"``) names the format and its
version; the header is a UTF-8 JSON object with an integer ``id`` that the reply echoes.
"""

from __future__ import annotations

import json
from typing import Any


class FrameCodec:
    """Packs and unpacks one protocol's messages; malformed ones raise ``error`` with the reason."""

    def __init__(self, protocol: bytes, error: type[ValueError]) -> None:
        self.protocol = protocol
        self.error = error

    def pack(self, doc: dict[str, Any], *body: bytes) -> list[bytes]:
        return [b"", self.protocol, json.dumps(doc, separators=(",", ":")).encode("utf-8"), *body]

    def unpack(self, frames: list[bytes]) -> tuple[dict[str, Any], list[bytes]]:
        """``(header, remaining frames)`` of a message without its routing envelope."""
        if frames and frames[0] == b"":
            frames = frames[1:]
        if len(frames) < 2 or frames[0] != self.protocol:
            raise self.error(f"expected [{self.protocol.decode()}, header, ...], got {len(frames)} frame(s)"
                             + (f" starting {frames[0][:16]!r}" if frames else ""))
        try:
            doc = json.loads(frames[1].decode("utf-8"))
        except (UnicodeDecodeError, ValueError) as exc:
            raise self.error(f"header is not UTF-8 JSON: {exc}") from None
        if not isinstance(doc, dict) or not isinstance(doc.get("id"), int):
            raise self.error("header must be a JSON object with an integer 'id'")
        return doc, frames[2:]
