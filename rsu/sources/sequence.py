"""Sensor counters that wrap, restart and lie: accept forward steps, resynchronise instead of discarding forever."""

from __future__ import annotations

__all__ = ["CounterGuard"]


class CounterGuard:
    """Orders measurement-cycle counters taken modulo ``modulus``.

    A counter ahead of the last accepted one (by less than half the modulus) is accepted. A repeated or
    older one is rejected (``out_of_order``) - unless it is the ``resync_after``-th rejected counter in a
    row, each a small step (``1..max_step``) after the previous rejected one: then the sensor restarted
    or the last accepted counter was corrupt, and the guard resynchronises on it (``resyncs``).
    """

    def __init__(self, modulus: int, *, resync_after: int = 2, max_step: int = 64) -> None:
        if modulus < 4 or resync_after < 1:
            raise ValueError(f"CounterGuard: modulus {modulus}, resync_after {resync_after}")
        self.modulus, self.resync_after, self.max_step = modulus, resync_after, max_step
        self.out_of_order = 0
        self.resyncs = 0
        self.last: int | None = None
        self._run = 0
        self._run_last = 0

    def reset(self) -> None:
        """Forget the sequence (a new recording pass, a reconnected sensor)."""
        self.last, self._run = None, 0

    def accept(self, counter: int) -> bool:
        """True when ``counter`` continues the sequence (or resynchronises it)."""
        counter %= self.modulus
        if self.last is None:
            self.last, self._run = counter, 0
            return True
        delta = (counter - self.last) % self.modulus
        if 0 < delta < self.modulus // 2:
            self.last, self._run = counter, 0
            return True
        step = (counter - self._run_last) % self.modulus
        self._run = self._run + 1 if self._run and 0 < step <= self.max_step else 1
        self._run_last = counter
        if self._run >= self.resync_after:
            self.resyncs += 1
            self.last, self._run = counter, 0
            return True
        self.out_of_order += 1
        return False
