"""A tagged ZeroMQ multipart request/reply format: ``[b"", PROTOCOL, header JSON, body...]``.

The empty first frame keeps it REQ-compatible; ``PROTOCOL`` (e.g. ``b"rsu.infer/1"``) names the format and its
version; the header is a UTF-8 JSON object with an integer ``id`` that the reply echoes, nested at most
``MAX_HEADER_DEPTH`` levels. Every way a message can be malformed (nesting deep enough to exhaust the
interpreter's recursion limit included) raises the codec's own ``error``, nothing else.
"""

from __future__ import annotations

import json
from typing import Any

__all__ = ["MAX_HEADER_DEPTH", "FrameCodec", "json_depth"]

MAX_HEADER_DEPTH = 32
"""Levels of nesting a header may have (the header object itself is level 1)."""


def json_depth(doc: Any) -> int:
    """How deeply ``doc`` (decoded JSON) nests objects and arrays (a scalar: 0); iterative, never recursive."""
    deepest, stack = 0, [(doc, 1)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, dict):
            children: Any = node.values()
        elif isinstance(node, list):
            children = node
        else:
            continue
        deepest = max(deepest, depth)
        stack.extend((child, depth + 1) for child in children if isinstance(child, (dict, list)))
    return deepest


class FrameCodec:
    """Packs and unpacks one protocol's messages; malformed ones raise ``error`` with the reason."""

    def __init__(self, protocol: bytes, error: type[ValueError], max_depth: int = MAX_HEADER_DEPTH) -> None:
        self.protocol = protocol
        self.error = error
        self.max_depth = max_depth

    def pack(self, doc: dict[str, Any], *body: bytes) -> list[bytes]:
        return [b"", self.protocol, json.dumps(doc, separators=(",", ":")).encode("utf-8"), *body]

    def unpack(self, frames: list[bytes]) -> tuple[dict[str, Any], list[bytes]]:
        """``(header, remaining frames)`` of a message without its routing envelope; only ``error`` is raised."""
        if frames and frames[0] == b"":
            frames = frames[1:]
        if len(frames) < 2 or frames[0] != self.protocol:
            raise self.error(f"expected [{self.protocol.decode()}, header, ...], got {len(frames)} frame(s)"
                             + (f" starting {frames[0][:16]!r}" if frames else ""))
        try:
            doc = json.loads(bytes(frames[1]).decode("utf-8"))
        except RecursionError:
            raise self.error(f"header nested deeper than {self.max_depth} levels") from None
        except (UnicodeDecodeError, ValueError, TypeError) as exc:
            raise self.error(f"header is not UTF-8 JSON: {exc}") from None
        if not isinstance(doc, dict) or not isinstance(doc.get("id"), int):
            raise self.error("header must be a JSON object with an integer 'id'")
        if json_depth(doc) > self.max_depth:
            raise self.error(f"header nested deeper than {self.max_depth} levels")
        return doc, frames[2:]
