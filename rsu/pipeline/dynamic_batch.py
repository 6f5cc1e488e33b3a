"""Dynamic batching: run one window at a time while the queue is short (lowest latency), bigger batches
as a backlog builds (throughput). Default batch = ``max(1, min(32, queue_len // 10))``."""

from __future__ import annotations

import threading
from collections import deque
from dataclasses import dataclass
from typing import Generic, TypeVar

__all__ = ["BatchPolicy", "BatchQueue"]

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class BatchPolicy:
    """``size(queue_len) = max(min_batch, min(max_batch, queue_len // divisor))``."""

    max_batch: int = 32
    divisor: int = 10
    min_batch: int = 1

    def __post_init__(self) -> None:
        if not 1 <= self.min_batch <= self.max_batch or self.divisor < 1:
            raise ValueError(f"batching: need 1 <= min_batch <= max_batch and divisor >= 1, got {self}")

    def size(self, queue_len: int) -> int:
        return max(self.min_batch, min(self.max_batch, queue_len // self.divisor))


class BatchQueue(Generic[T]):
    """A thread-safe FIFO that hands out batches sized by a :class:`BatchPolicy`.

    :param capacity: items held at most; beyond it :meth:`put` drops (and counts) the oldest, or waits for
        room when ``block_when_full`` (replaying a recording, where nothing may be lost).
    """

    def __init__(self, policy: BatchPolicy | None = None, capacity: int = 10_000,
                 block_when_full: bool = False) -> None:
        if capacity < 1:
            raise ValueError(f"capacity: must be >= 1, got {capacity}")
        self.policy = policy or BatchPolicy()
        self.capacity = capacity
        self.block_when_full = block_when_full
        self._items: deque[T] = deque()
        self._cond = threading.Condition()
        self._closed = False
        self.dropped = 0
        self.batches: dict[int, int] = {}  # batch size -> how many batches of that size were taken

    def __len__(self) -> int:
        return len(self._items)

    def put(self, item: T) -> None:
        with self._cond:
            while self.block_when_full and len(self._items) >= self.capacity and not self._closed:
                self._cond.wait(0.1)
            if len(self._items) >= self.capacity:
                self._items.popleft()
                self.dropped += 1
            self._items.append(item)
            self._cond.notify_all()

    def take(self, timeout: float | None = None) -> list[T]:
        """Wait for at least one item (or close/timeout) and return the next batch (empty when none)."""
        with self._cond:
            if not self._items and not self._closed:
                self._cond.wait(timeout)
            n = min(len(self._items), self.policy.size(len(self._items)))
            batch = [self._items.popleft() for _ in range(n)]
            if batch:
                self.batches[n] = self.batches.get(n, 0) + 1
                self._cond.notify_all()  # room for a blocked producer
            return batch

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify_all()

    @property
    def closed(self) -> bool:
        return self._closed
