"""Camera values: :class:`Frame` (one image) and :class:`Detections` (a detector's boxes for one frame).

Both hold numpy arrays, so they compare as values (``==`` uses :func:`numpy.array_equal` on the arrays and
``==`` on the rest) and hash on their scalar fields only (equal values always hash equal; arrays are not
hashed, so hashing stays cheap). Arrays are read-only.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from rsu_sdk._checks import FROZEN, arrays_equal, check_source, check_time, readonly
from rsu_sdk.errors import InvalidDataError

__all__ = ["Frame", "Detections"]


@dataclass(**FROZEN, eq=False)
class Frame:
    """One decoded camera image.

    :param source: the camera's source id from the config, e.g. ``cam-1``.
    :param t_event_ns: capture time, integer ns since the Unix epoch.
    :param frame_id: the source's frame counter (+1 per frame read, also across reconnects).
    :param image: ``(H, W, 3)`` uint8 BGR pixels. A uint8 array is **not copied**: the frame holds a
        read-only view of it (so the producer must not write into that buffer afterwards); anything else is
        converted to uint8 once.
    """

    source: str
    t_event_ns: int
    frame_id: int
    image: npt.NDArray[np.uint8]

    def __post_init__(self) -> None:
        check_source("Frame", self.source)
        check_time("Frame", self.t_event_ns)
        object.__setattr__(self, "image", readonly("Frame", "image", self.image, np.uint8, (None, None, 3)))

    @property
    def size(self) -> tuple[int, int]:
        """``(width, height)`` in pixels."""
        return int(self.image.shape[1]), int(self.image.shape[0])

    def __eq__(self, other: object) -> bool:
        if type(other) is not Frame:
            return NotImplemented
        return ((self.source, self.t_event_ns, self.frame_id) == (other.source, other.t_event_ns, other.frame_id)
                and arrays_equal(self.image, other.image))

    def __hash__(self) -> int:
        return hash((Frame, self.source, self.t_event_ns, self.frame_id, self.image.shape))


@dataclass(**FROZEN, eq=False)
class Detections:
    """Objects a detector found in one camera frame, as parallel arrays of length N.

    :param source: the camera's source id.
    :param t_event_ns: capture time of the frame, integer ns since the Unix epoch.
    :param frame_id: the frame's ``frame_id``.
    :param xyxy: ``(N, 4)`` float32 boxes in pixels of that frame, ``x1, y1, x2, y2`` (origin top left).
    :param confidence: ``(N,)`` float32 scores in ``[0, 1]``.
    :param class_id: ``(N,)`` int32 indices into ``class_names``.
    :param class_names: the model's label map (as the model names them, e.g. ``person``, ``car``).
    :param image_size: ``(width, height)`` in pixels of the frame the boxes refer to.
    :param track_id: ``(N,)`` int64 track ids, ``-1`` where untracked; ``None`` when no tracker ran.

    Like supervision's ``Detections``: ``len(d)``, ``d[mask]`` / ``d[1:3]`` / ``d[[0, 2]]`` / ``d[i]`` select
    rows (a new ``Detections``), iteration yields one-row ``Detections``, :meth:`merge` joins the parts of one
    frame and :meth:`empty` makes an empty one.
    """

    source: str
    t_event_ns: int
    frame_id: int
    xyxy: npt.NDArray[np.float32]
    confidence: npt.NDArray[np.float32]
    class_id: npt.NDArray[np.int32]
    class_names: tuple[str, ...]
    image_size: tuple[int, int]
    track_id: npt.NDArray[np.int64] | None = None

    def __post_init__(self) -> None:
        owner = "Detections"
        check_source(owner, self.source)
        check_time(owner, self.t_event_ns)
        xyxy = _as_boxes(self.xyxy)
        n = xyxy.shape[0]
        conf = readonly(owner, "confidence", self.confidence, np.float32, (n,))
        cls = readonly(owner, "class_id", self.class_id, np.int32, (n,))
        object.__setattr__(self, "xyxy", xyxy)
        object.__setattr__(self, "confidence", conf)
        object.__setattr__(self, "class_id", cls)
        object.__setattr__(self, "class_names", tuple(self.class_names))
        if not all(isinstance(c, str) for c in self.class_names):
            raise InvalidDataError(f"{owner}.class_names: expected a tuple of strings, got {self.class_names!r}")
        if self.track_id is not None:
            object.__setattr__(self, "track_id", readonly(owner, "track_id", self.track_id, np.int64, (n,)))
        if n and (cls.min() < 0 or cls.max() >= len(self.class_names)):
            raise InvalidDataError(
                f"{owner}.class_id: values must index class_names (0..{len(self.class_names) - 1}), "
                f"got {int(cls.min())}..{int(cls.max())}"
            )
        if n and (conf.min() < 0 or conf.max() > 1):
            raise InvalidDataError(f"{owner}.confidence: values must lie in [0, 1]")
        try:
            w, h = self.image_size
        except (TypeError, ValueError):
            raise InvalidDataError(f"{owner}.image_size: expected (width, height), got {self.image_size!r}") from None
        if w <= 0 or h <= 0:
            raise InvalidDataError(f"{owner}.image_size: expected positive (width, height), got {self.image_size}")
        object.__setattr__(self, "image_size", (int(w), int(h)))

    def __len__(self) -> int:
        return int(self.xyxy.shape[0])

    @property
    def labels(self) -> list[str]:
        """Class name of each detection."""
        return [self.class_names[i] for i in self.class_id]

    # -- value semantics ---------------------------------------------------------------------------

    def _scalars(self) -> tuple[Any, ...]:
        return (self.source, self.t_event_ns, self.frame_id, self.class_names, self.image_size)

    def __eq__(self, other: object) -> bool:
        if type(other) is not Detections:
            return NotImplemented
        return (self._scalars() == other._scalars() and arrays_equal(self.xyxy, other.xyxy)
                and arrays_equal(self.confidence, other.confidence) and arrays_equal(self.class_id, other.class_id)
                and arrays_equal(self.track_id, other.track_id))

    def __hash__(self) -> int:
        return hash((Detections, *self._scalars(), len(self)))

    # -- selection and construction ----------------------------------------------------------------

    def __getitem__(self, index: int | slice | Sequence[int] | npt.NDArray[Any]) -> Detections:
        """The rows ``index`` selects (an int, a slice, indices or a boolean mask of length N)."""
        rows = [index] if isinstance(index, (int, np.integer)) else index
        if isinstance(rows, np.ndarray) and rows.dtype == bool and rows.shape != (len(self),):
            raise InvalidDataError(f"Detections[mask]: expected a mask of shape ({len(self)},), got {rows.shape}")
        try:
            return Detections(
                source=self.source, t_event_ns=self.t_event_ns, frame_id=self.frame_id, xyxy=self.xyxy[rows],
                confidence=self.confidence[rows], class_id=self.class_id[rows], class_names=self.class_names,
                image_size=self.image_size, track_id=None if self.track_id is None else self.track_id[rows])
        except IndexError as exc:
            raise IndexError(f"Detections[{index!r}]: {exc}") from None

    def __iter__(self) -> Iterator[Detections]:
        """One single-row :class:`Detections` per detection."""
        for i in range(len(self)):
            yield self[i]

    @classmethod
    def empty(cls, *, source: str, t_event_ns: int, frame_id: int, class_names: Sequence[str],
              image_size: tuple[int, int]) -> Detections:
        """No detections for one frame (what a detector reports for an empty scene)."""
        return cls(source=source, t_event_ns=t_event_ns, frame_id=frame_id, xyxy=np.empty((0, 4), np.float32),
                   confidence=np.empty(0, np.float32), class_id=np.empty(0, np.int32),
                   class_names=tuple(class_names), image_size=image_size)

    @classmethod
    def merge(cls, parts: Sequence[Detections]) -> Detections:
        """Join the detections of one frame (e.g. tiles, or several detectors with one label map).

        Every part must have the same ``source``, ``t_event_ns``, ``frame_id``, ``class_names`` and
        ``image_size``; ``track_id`` is kept when every part has one.
        """
        parts = list(parts)
        if not parts:
            raise InvalidDataError("Detections.merge: expected at least one Detections, got none")
        first = parts[0]
        for i, part in enumerate(parts):
            if not isinstance(part, Detections):
                raise InvalidDataError(f"Detections.merge: parts[{i}]: expected Detections, got {type(part).__name__}")
            if part._scalars() != first._scalars():
                raise InvalidDataError(
                    f"Detections.merge: parts[{i}]: expected the same source, t_event_ns, frame_id, class_names "
                    f"and image_size as parts[0], got {part._scalars()[:3]} vs {first._scalars()[:3]}")
        tracks = None
        if all(p.track_id is not None for p in parts):
            tracks = np.concatenate([p.track_id for p in parts])  # type: ignore[misc]
        return cls(source=first.source, t_event_ns=first.t_event_ns, frame_id=first.frame_id,
                   xyxy=np.concatenate([p.xyxy for p in parts]),
                   confidence=np.concatenate([p.confidence for p in parts]),
                   class_id=np.concatenate([p.class_id for p in parts]), class_names=first.class_names,
                   image_size=first.image_size, track_id=tracks)


def _as_boxes(value: Any) -> np.ndarray:
    """``xyxy`` as ``(N, 4)`` float32 read-only; an empty input of any shape is ``(0, 4)``."""
    if np.size(value) == 0:
        value = np.empty((0, 4), np.float32)
    return readonly("Detections", "xyxy", value, np.float32, (None, 4))
