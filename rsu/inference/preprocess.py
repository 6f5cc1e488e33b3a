"""Image -> model input: letterbox (square or stride-aligned rectangle) or stretch, colour order, normalisation,
layout, batching.

Every image gets a :class:`Transform` that maps boxes in model-input pixels back to image pixels.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

import cv2
import numpy as np

__all__ = ["InputSpec", "Transform", "input_shape", "letterbox", "prepare_batch", "rect_letterbox", "rect_size",
           "stretch"]


@dataclass(frozen=True, slots=True, kw_only=True)
class InputSpec:
    """How a model wants its input.

    :param size: ``(width, height)`` of the model input; for ``rect``, the largest input (its long side is the
        side every image is scaled to).
    :param resize: ``letterbox`` (keep aspect, pad with ``pad_value`` to ``size``), ``rect`` (keep aspect, pad
        only up to the next multiple of ``stride``: for models whose input height and width are dynamic; the
        input shape then depends on the image's aspect, see :func:`rect_size`) or ``stretch`` (resize to fit).
    :param stride: ``rect`` only: both sides of the input are multiples of it.
    :param color: channel order the model expects, ``rgb`` or ``bgr`` (frames are BGR).
    :param mean: subtracted per channel (in the model's channel order) from 0..255 values.
    :param std: divides per channel after ``mean``.
    :param layout: ``NCHW`` or ``NHWC``.
    """

    size: tuple[int, int]
    resize: Literal["letterbox", "rect", "stretch"] = "letterbox"
    color: Literal["rgb", "bgr"] = "rgb"
    mean: tuple[float, float, float] = (0.0, 0.0, 0.0)
    std: tuple[float, float, float] = (255.0, 255.0, 255.0)
    layout: Literal["NCHW", "NHWC"] = "NCHW"
    pad_value: int = 114
    stride: int = 32
    _scale: np.ndarray = field(init=False, repr=False, compare=False)
    _offset: np.ndarray = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        w, h = self.size
        if w <= 0 or h <= 0:
            raise ValueError(f"InputSpec.size: expected positive (width, height), got {self.size}")
        if any(s == 0 for s in self.std):
            raise ValueError(f"InputSpec.std: must not contain 0, got {self.std}")
        if self.stride <= 0:
            raise ValueError(f"InputSpec.stride: expected > 0, got {self.stride}")
        scale = 1.0 / np.asarray(self.std, np.float32)
        object.__setattr__(self, "_scale", scale)
        object.__setattr__(self, "_offset", -np.asarray(self.mean, np.float32) * scale)


@dataclass(frozen=True, slots=True)
class Transform:
    """``image = (model - pad) / scale``, per axis; ``image_size`` is ``(width, height)`` for clipping."""

    scale_x: float
    scale_y: float
    pad_x: float
    pad_y: float
    image_size: tuple[int, int]

    def to_image(self, xyxy: np.ndarray) -> np.ndarray:
        """Map ``(N, 4)`` boxes from model-input pixels to image pixels, clipped to the image."""
        out = np.asarray(xyxy, np.float32).copy()
        out[:, [0, 2]] = (out[:, [0, 2]] - self.pad_x) / self.scale_x
        out[:, [1, 3]] = (out[:, [1, 3]] - self.pad_y) / self.scale_y
        w, h = self.image_size
        out[:, [0, 2]] = np.clip(out[:, [0, 2]], 0, w)
        out[:, [1, 3]] = np.clip(out[:, [1, 3]], 0, h)
        return out


def _letterbox_geometry(w: int, h: int, tw: int, th: int) -> tuple[int, int, int, int]:
    """``(nw, nh, left, top)``: the resized image's size and where it sits in the padded ``tw x th`` canvas."""
    r = min(tw / w, th / h)
    nw, nh = max(1, round(w * r)), max(1, round(h * r))
    pad_x, pad_y = (tw - nw) / 2, (th - nh) / 2
    return nw, nh, int(round(pad_x - 0.1)), int(round(pad_y - 0.1))


def _place(image: np.ndarray, nw: int, nh: int, tw: int, th: int, pad_value: int) -> tuple[np.ndarray, Transform]:
    """Resize ``image`` to ``nw x nh`` straight into the centre of a ``tw x th`` canvas of ``pad_value``."""
    h, w = image.shape[:2]
    left, top = int(round((tw - nw) / 2 - 0.1)), int(round((th - nh) / 2 - 0.1))
    out = np.full((th, tw, *image.shape[2:]), pad_value, image.dtype)
    window = out[top:top + nh, left:left + nw]
    if (nw, nh) == (w, h):
        window[...] = image
    else:
        cv2.resize(image, (nw, nh), dst=window, interpolation=cv2.INTER_LINEAR)
    return out, Transform(nw / w, nh / h, float(left), float(top), (w, h))


def letterbox(image: np.ndarray, size: tuple[int, int], pad_value: int = 114) -> tuple[np.ndarray, Transform]:
    """Resize keeping the aspect ratio and pad (centred) to ``size`` = ``(width, height)``.

    The image is resized straight into its window of the padded canvas (no intermediate copy).
    """
    h, w = image.shape[:2]
    tw, th = size
    nw, nh, _, _ = _letterbox_geometry(w, h, tw, th)
    return _place(image, nw, nh, tw, th, pad_value)


def _rect_geometry(w: int, h: int, side: int, stride: int) -> tuple[int, int, int, int]:
    """``(nw, nh, tw, th)``: the image scaled so its long side is ``side``, and the canvas around it (each side
    rounded up to a multiple of ``stride``)."""
    r = side / max(w, h)
    nw, nh = max(1, round(w * r)), max(1, round(h * r))
    return nw, nh, -(-nw // stride) * stride, -(-nh // stride) * stride


def rect_size(image_size: tuple[int, int], side: int, stride: int = 32) -> tuple[int, int]:
    """The ``(width, height)`` of the smallest stride-aligned input that holds an image of ``image_size``
    (``(width, height)``) scaled, aspect kept, so that its long side is ``side``: 768x576 at 640 -> 640x480,
    1920x1080 at 640 -> 640x384 (360 rounded up to 12 strides)."""
    w, h = image_size
    if w <= 0 or h <= 0:
        raise ValueError(f"rect_size: expected a positive image size, got {image_size}")
    return _rect_geometry(w, h, side, stride)[2:]


def rect_letterbox(image: np.ndarray, side: int, stride: int = 32, pad_value: int = 114
                   ) -> tuple[np.ndarray, Transform]:
    """Letterbox to :func:`rect_size`: resize keeping the aspect ratio (long side ``side``), pad (centred) only
    up to the next multiple of ``stride`` on each side."""
    h, w = image.shape[:2]
    nw, nh, tw, th = _rect_geometry(w, h, side, stride)
    return _place(image, nw, nh, tw, th, pad_value)


def input_shape(image_size: tuple[int, int], spec: InputSpec) -> tuple[int, int]:
    """The ``(width, height)`` of the model input ``spec`` makes from an image of ``image_size``: ``spec.size``,
    or for ``rect`` the image's own :func:`rect_size` (images of one batch must share it)."""
    if spec.resize != "rect":
        return spec.size
    return rect_size(image_size, max(spec.size), spec.stride)


def stretch(image: np.ndarray, size: tuple[int, int]) -> tuple[np.ndarray, Transform]:
    """Resize to ``size`` = ``(width, height)`` ignoring the aspect ratio."""
    h, w = image.shape[:2]
    tw, th = size
    out = image if (tw, th) == (w, h) else cv2.resize(image, (tw, th), interpolation=cv2.INTER_LINEAR)
    return out, Transform(tw / w, th / h, 0.0, 0.0, (w, h))


def _normalise_planar(image: np.ndarray, spec: InputSpec, out: np.ndarray) -> None:
    """``(H, W, 3)`` uint8 BGR -> ``out`` ``(3, H, W)`` float32 in ``spec``'s colour order, ``x * scale + offset``.

    ``cv2.split`` gives contiguous planes, so each channel is one fused uint8 -> float32 multiply into its
    plane of the batch; no float HWC intermediate and no transpose copy. Same float32 arithmetic as the
    interleaved path, hence bit-identical results.
    """
    planes = cv2.split(image)
    if spec.color == "rgb":
        planes = planes[::-1]
    for c, plane in enumerate(planes):
        np.multiply(plane, spec._scale[c], out=out[c], casting="unsafe")
        if spec._offset[c] != 0.0:
            out[c] += spec._offset[c]


def prepare_batch(images: Sequence[np.ndarray], spec: InputSpec,
                  out: np.ndarray | None = None) -> tuple[np.ndarray, list[Transform]]:
    """Turn BGR uint8 images into one float32 batch in ``spec``'s layout, and their transforms.

    For ``rect`` every image must give the same :func:`input_shape` (group them first, as the detector does).

    :param out: optional preallocated float32 batch of the right shape to fill (and return) instead of a new one.
    """
    if not images:
        raise ValueError("prepare_batch: no images")
    for i, img in enumerate(images):
        if img.ndim != 3 or img.shape[2] != 3:
            raise ValueError(f"prepare_batch: image {i}: expected (H, W, 3), got {img.shape}")
    tw, th = input_shape((images[0].shape[1], images[0].shape[0]), spec)
    if spec.resize == "rect":
        for i, img in enumerate(images[1:], 1):
            if (got := input_shape((img.shape[1], img.shape[0]), spec)) != (tw, th):
                raise ValueError(f"prepare_batch: image {i}: its rect input is {got[0]}x{got[1]}, image 0's "
                                 f"{tw}x{th}; one batch needs one input shape")
    shape = (len(images), 3, th, tw) if spec.layout == "NCHW" else (len(images), th, tw, 3)
    if out is None:
        batch = np.empty(shape, np.float32)
    elif out.shape != shape or out.dtype != np.float32 or not out.flags.c_contiguous:
        raise ValueError(f"prepare_batch: out: expected a C-contiguous float32 array of shape {shape}, "
                         f"got {out.dtype} {out.shape}")
    else:
        batch = out
    transforms: list[Transform] = []
    for i, img in enumerate(images):
        if spec.resize == "letterbox":
            resized, tf = letterbox(img, spec.size, spec.pad_value)
        elif spec.resize == "rect":
            resized, tf = rect_letterbox(img, max(spec.size), spec.stride, spec.pad_value)
        else:
            resized, tf = stretch(img, spec.size)
        if spec.layout == "NCHW":
            _normalise_planar(resized, spec, batch[i])
        else:
            if spec.color == "rgb":
                resized = resized[:, :, ::-1]
            np.multiply(resized, spec._scale, out=batch[i], casting="unsafe")
            batch[i] += spec._offset
        transforms.append(tf)
    return batch, transforms
