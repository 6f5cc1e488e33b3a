"""The aggregator's wire format (``rsu.fed/1``), ZeroMQ multipart with an empty delimiter first.

Requests ``[b"", b"rsu.fed/1", header JSON, body?]``:
- ``{"op": "update", "id", "box", "model", "base_version", "samples", "metrics"}`` + the weights (``.npz``);
  reply ``{"id", "status": "accepted" | "rejected", "error"?, "version"}`` (the latest stored version);
- ``{"op": "latest", "id", "model", "have"}``; reply ``{"id", "status": "ok", "version", "sha256",
  "contributors", "samples"}``, followed by the ONNX bytes when ``version > have``.
"""

from __future__ import annotations

from rsu.net.zmq_frames import FrameCodec

__all__ = ["PROTOCOL", "WireError", "pack", "unpack"]

PROTOCOL = b"rsu.fed/1"


class WireError(ValueError):
    """Not an ``rsu.fed/1`` message."""


_codec = FrameCodec(PROTOCOL, WireError)
pack = _codec.pack
unpack = _codec.unpack
