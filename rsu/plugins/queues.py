"""One plugin's queue, in two lanes: a safety FIFO that never sheds, and a newest-wins queue for the rest.

- **safety** (the box's safety products, :data:`rsu.core.envelope.SAFETY_TYPES`: alarms, actuation commands and
  outcomes, health events): a FIFO that never sheds and keeps their order. It holds at most ``safety_size``
  products; the worker makes a producer *wait* for room there (back-pressure, counted), it never drops one.
- **normal** (everything else): at most ``queue_size`` products. With ``newest_wins`` a product whose
  :func:`source_key` (type, source, device, model) is already queued replaces the queued one in its place
  (``superseded``: the plugin gets the newest per source and device, without losing its turn); without it every
  product is queued. Either way a full queue sheds its oldest product to make room. Both count as ``shed``.

:meth:`PluginQueue.take` serves the safety lane first: an alarm overtakes readings queued before it, but each
lane keeps its own order. CPMs and DENMs never pass here: plugins publish them (the uplink holds those).
Not thread-safe by itself: :class:`~rsu.plugins.worker.PluginWorker` holds its lock around every call.
"""

from __future__ import annotations

import itertools
from collections import OrderedDict, deque
from collections.abc import Callable, Hashable
from typing import Any

__all__ = ["Call", "PluginQueue", "source_key"]

Call = tuple[str, Callable[..., Any], tuple[Any, ...]]
"""(hook name, function, positional arguments)."""


def source_key(product: object) -> Hashable:
    """What makes two products "the same stream" for newest-wins: their type, ``source`` and, where they carry
    them, ``device`` and ``model`` (a source reads several devices; a device has one prediction per model)."""
    return (type(product).__name__, getattr(product, "source", None), getattr(product, "device", None),
            getattr(product, "model", None))


class PluginQueue:
    """The two lanes of one plugin (see the module docstring).

    :param queue_size: non-safety products held before the oldest is shed.
    :param safety_size: safety products held before producers must wait (:meth:`safety_full`).
    :param newest_wins: a non-safety product replaces the queued one with the same key.
    """

    def __init__(self, queue_size: int, safety_size: int, *, newest_wins: bool = True) -> None:
        if queue_size < 1 or safety_size < 1:
            raise ValueError("queue_size and safety_size must be >= 1")
        self.queue_size = queue_size
        self.safety_size = safety_size
        self.newest_wins = newest_wins
        self._safety: deque[Call] = deque()
        self._normal: OrderedDict[Hashable, Call] = OrderedDict()
        self._unique = itertools.count()
        self.shed = 0
        self.superseded = 0
        self.safety_total = 0
        self.safety_max_depth = 0

    def __len__(self) -> int:
        return len(self._safety) + len(self._normal)

    @property
    def safety_depth(self) -> int:
        return len(self._safety)

    def safety_full(self) -> bool:
        return len(self._safety) >= self.safety_size

    def put_safety(self, call: Call) -> None:
        """Append to the safety lane (the caller waited until :meth:`safety_full` was False)."""
        self._safety.append(call)
        self.safety_total += 1
        self.safety_max_depth = max(self.safety_max_depth, len(self._safety))

    def put(self, call: Call, key: Hashable | None) -> int:
        """Queue a non-safety call under ``key`` (None: never superseded).

        :returns: how many queued calls it removed (0 or 1): superseded, or the oldest shed for room.
        """
        if key is None or not self.newest_wins:
            key = ("#", next(self._unique))
        elif key in self._normal:
            self._normal[key] = call  # in place: the newest of this stream keeps the stream's turn
            self.shed += 1
            self.superseded += 1
            return 1
        removed = 0
        if len(self._normal) >= self.queue_size:
            self._normal.popitem(last=False)
            self.shed += 1
            removed = 1
        self._normal[key] = call
        return removed

    def take(self) -> Call | None:
        """The next call, safety first; None when both lanes are empty."""
        if self._safety:
            return self._safety.popleft()
        if self._normal:
            return self._normal.popitem(last=False)[1]
        return None

    def clear(self) -> tuple[int, int]:
        """Empty both lanes; returns ``(safety, normal)`` counts removed."""
        out = (len(self._safety), len(self._normal))
        self._safety.clear()
        self._normal.clear()
        return out
