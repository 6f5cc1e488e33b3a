"""The track table: every value of every track in two column-major blocks (floats, integers).

Row ``r`` of a block is one component of one field for all tracks, so per-field arithmetic runs over
contiguous memory, and taking, writing back, adding or dropping tracks is one operation per block.
``table.x`` (``(N, 4)``), ``table.p`` (``(N, 4, 4)``) and the other fields are views in the usual
track-major orientation; ``table.X`` (``(4, N)``) and ``table.P`` (``(4, 4, N)``) are the component-major
views the Kalman filter works on.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

from rsu.fusion.classes import CLASSES

__all__ = ["TrackTable", "FIELDS"]

_NC = len(CLASSES)
_FLOAT: dict[str, tuple[int, tuple[int, ...]]] = {}  # name -> first row in the float block, shape per track
_INT: dict[str, tuple[int, tuple[int, ...]]] = {}
for _block, _spec in ((_FLOAT, (("x", (4,)), ("p", (4, 4)), ("cam_support", ()), ("cam_scores", (_NC,)),
                                ("radar_scores", (_NC,)), ("conf", ()), ("size", (3,)), ("heading", ()))),
                      (_INT, (("ids", ()), ("state", ()), ("hits", ()), ("t_created", ()), ("t_updated", ()),
                              ("cam_hits", ()), ("radar_hits", ()), ("cam_miss", ()), ("src_mask", ())))):
    _row = 0
    for _name, _shape in _spec:
        _block[_name] = (_row, _shape)
        _row += int(np.prod(_shape, dtype=int))
_NF, _NI = sum(int(np.prod(s, dtype=int)) for _, s in _FLOAT.values()), len(_INT)

FIELDS = ("ids", "x", "p", "state", "hits", "t_created", "t_updated", "cam_hits", "radar_hits", "cam_miss",
          "cam_support", "cam_scores", "radar_scores", "conf", "size", "heading", "src_mask")
"""Every field, in snapshot order."""


def _field(name: str) -> property:
    attr, (row, shape) = ("f", _FLOAT[name]) if name in _FLOAT else ("i", _INT[name])
    end = row + int(np.prod(shape, dtype=int))

    def get(self: TrackTable) -> Any:
        block = getattr(self, attr)
        if not shape:
            return block[row]
        if len(shape) == 1:
            return block[row:end].T
        return block[row:end].reshape(*shape, block.shape[1]).transpose(len(shape), *range(len(shape)))

    def put(self: TrackTable, value: Any) -> None:
        get(self)[...] = value

    return property(get, put, doc=f"``{name}`` of every track, ``(N, *{shape})`` (a view).")


class TrackTable:
    """Tracks as two blocks: ``f`` float64 ``(rows, N)`` and ``i`` int64 ``(rows, N)``."""

    __slots__ = ("f", "i")

    def __init__(self, f: npt.NDArray[np.float64], i: npt.NDArray[np.int64]) -> None:
        self.f, self.i = f, i

    @classmethod
    def zeros(cls, n: int) -> TrackTable:
        return cls(np.zeros((_NF, n)), np.zeros((_NI, n), np.int64))

    def __len__(self) -> int:
        return self.f.shape[1]

    def take(self, sel: Any) -> TrackTable:
        """The tracks ``sel`` selects (index array or mask), as a new table."""
        return TrackTable(self.f[:, sel], self.i[:, sel])

    def put(self, sel: Any, other: TrackTable) -> None:
        """Write ``other`` back over the tracks ``sel`` selects."""
        self.f[:, sel] = other.f
        self.i[:, sel] = other.i

    def join(self, other: TrackTable) -> TrackTable:
        """These tracks followed by ``other``'s."""
        return TrackTable(np.concatenate([self.f, other.f], axis=1), np.concatenate([self.i, other.i], axis=1))

    @property
    def X(self) -> npt.NDArray[np.float64]:  # noqa: N802  (the state, component-major)
        """States ``(4, N)``: east, north, v_east, v_north rows."""
        return self.f[0:4]

    @property
    def P(self) -> npt.NDArray[np.float64]:  # noqa: N802
        """Covariances ``(4, 4, N)``."""
        return self.f[4:20].reshape(4, 4, self.f.shape[1])

    def rows(self, name: str) -> npt.NDArray[Any]:
        """Field ``name`` component-major: ``(*shape, N)``, each component a contiguous row (a view)."""
        block, (row, shape) = (self.f, _FLOAT[name]) if name in _FLOAT else (self.i, _INT[name])
        size = int(np.prod(shape, dtype=int))
        return block[row:row + size].reshape(*shape, block.shape[1])

    def snapshot(self) -> dict[str, Any]:
        return {name: getattr(self, name).tolist() for name in FIELDS}

    @classmethod
    def from_snapshot(cls, snap: dict[str, Any]) -> TrackTable:
        table = cls.zeros(len(snap["ids"]))
        for name in FIELDS:
            view = getattr(table, name)
            view[...] = np.asarray(snap[name], dtype=view.dtype).reshape(view.shape)
        return table

    ids, x, p, state, hits, t_created, t_updated = map(
        _field, ("ids", "x", "p", "state", "hits", "t_created", "t_updated"))
    cam_hits, radar_hits, cam_miss, cam_support, cam_scores, radar_scores = map(
        _field, ("cam_hits", "radar_hits", "cam_miss", "cam_support", "cam_scores", "radar_scores"))
    conf, size, heading, src_mask = map(_field, ("conf", "size", "heading", "src_mask"))
