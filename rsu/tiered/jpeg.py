"""JPEG size from the header alone, and a decoder that checks it against limits before allocating anything.

A JPEG states its width and height in its frame header (SOF marker), before any image data: a 137 kB file can
claim 16000x16000, which a decoder would allocate (768 MB as BGR) before noticing the data is short.
:func:`jpeg_size` walks the marker segments up to the first SOF without decoding; :func:`decode_limited`
refuses an empty body, a non-JPEG, a body over ``max_bytes`` and a claimed size over ``max_side`` or
``max_pixels`` first, then decodes and checks that the decoded image is the size the header claimed.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

__all__ = ["ImageRejected", "ImageLimits", "jpeg_size", "decode_limited"]

# SOF0-SOF15 except DHT (C4), JPG (C8) and DAC (CC): the segments that carry the frame size
_SOF = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}
_STANDALONE = frozenset({0x01, *range(0xD0, 0xD8)})  # TEM, RST0-7: no length field


class ImageRejected(ValueError):
    """A request image refused before (or instead of) decoding; ``reason`` is a short counter key."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


@dataclass(frozen=True, slots=True, kw_only=True)
class ImageLimits:
    """Bounds on one request image: its bytes, its longest side and its pixel count."""

    max_bytes: int = 8 * 1024 * 1024
    max_side: int = 4096
    max_pixels: int = 4096 * 4096


def jpeg_size(data: bytes) -> tuple[int, int]:
    """``(width, height)`` from a JPEG's frame header, without decoding; :class:`ImageRejected` otherwise."""
    n = len(data)
    if n < 4 or data[0] != 0xFF or data[1] != 0xD8:
        raise ImageRejected("bad_image", f"request body is not a JPEG ({n} bytes, no SOI marker)")
    pos = 2
    while pos < n:
        if data[pos] != 0xFF:
            raise ImageRejected("bad_image", f"JPEG: expected a marker at byte {pos}, got 0x{data[pos]:02x}")
        while pos < n and data[pos] == 0xFF:  # fill bytes
            pos += 1
        if pos >= n:
            break
        marker = data[pos]
        pos += 1
        if marker in _STANDALONE:
            continue
        if marker in (0xD9, 0xDA):  # EOI or start of scan before any frame header
            raise ImageRejected("bad_image", "JPEG: no frame header (SOF) before the image data")
        if pos + 2 > n:
            break
        length = (data[pos] << 8) | data[pos + 1]
        if length < 2 or pos + length > n:
            raise ImageRejected("bad_image", f"JPEG: segment 0x{marker:02x} at byte {pos - 2} runs past the end")
        if marker in _SOF:
            if length < 8:
                raise ImageRejected("bad_image", f"JPEG: frame header of {length} bytes is too short")
            height = (data[pos + 3] << 8) | data[pos + 4]
            width = (data[pos + 5] << 8) | data[pos + 6]
            if width == 0 or height == 0:
                raise ImageRejected("bad_image", f"JPEG: frame header claims {width}x{height}")
            return width, height
        pos += length
    raise ImageRejected("bad_image", f"JPEG: truncated before its frame header ({n} bytes)")


def decode_limited(data: bytes, limits: ImageLimits) -> np.ndarray:
    """A BGR image from JPEG ``data`` within ``limits``; :class:`ImageRejected` (with its reason) otherwise."""
    if not data:
        raise ImageRejected("empty", "request body is empty (expected a JPEG)")
    if len(data) > limits.max_bytes:
        raise ImageRejected("too_large", f"request body of {len(data)} bytes is over the limit of "
                                         f"{limits.max_bytes}")
    width, height = jpeg_size(data)
    if max(width, height) > limits.max_side or width * height > limits.max_pixels:
        raise ImageRejected("image_size", f"JPEG claims {width}x{height}: over the limit of {limits.max_side} "
                                          f"px a side and {limits.max_pixels} pixels")
    try:
        image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR | cv2.IMREAD_IGNORE_ORIENTATION)
    except cv2.error as exc:
        raise ImageRejected("bad_image", f"JPEG could not be decoded: {str(exc).strip()[:120]}") from None
    if image is None:
        raise ImageRejected("bad_image", f"request body is not a decodable JPEG ({len(data)} bytes)")
    if image.shape[:2] != (height, width):
        raise ImageRejected("bad_image", f"JPEG decoded to {image.shape[1]}x{image.shape[0]}, its header claims "
                                         f"{width}x{height}")
    return image
