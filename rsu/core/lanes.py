"""The box's input lanes: one never-dropping safety lane, and per-key, freshness-bounded input queues.

:meth:`Lanes.take` serves the safety lane first, then derived products (outputs of stages and plugins), then
sensor inputs; within a lane the key whose oldest item arrived first. An input that has waited in its queue
longer than its key's ``max_age_ns`` when it would be taken is shed and counted as stale, so the router always
works on fresh inputs. Only the wait in the box's own queue counts (from when the box received it): an input
whose *event time* is already more than ``late_after_ns`` behind the box's wall clock when it arrives (a slow
link, a gateway that batches) is counted as late and processed like any other. Event times more than a minute
behind the clock are a recorded timeline (a replay without ``rebase_time``), not lateness. A full input queue
drops its oldest (or the arriving) item, counted, or blocks the producer (lossless inputs such as a recording
played as fast as possible). While the safety lane holds more than ``safety_high_water`` products, sensor
producers wait (back-pressure) until it is down to ``safety_low_water``.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from rsu.core.clock import SYSTEM_CLOCK, Clock
from rsu.core.envelope import Envelope, Lane

__all__ = ["InputPolicy", "Lanes"]

WhenFull = Literal["drop_oldest", "drop_newest", "block"]

_ON_BOX_CLOCK = 60_000_000_000
"""Event times at most this far behind the box's wall clock are taken as on its clock (ns); older ones are a
recorded timeline and never counted late."""


@dataclass(frozen=True, slots=True)
class InputPolicy:
    """How one input key's queue behaves: the longest an input may wait in it (None: inputs never go stale), its
    capacity, what a full queue does, and how far behind the box's clock an arriving input's event time may be
    before it is counted late (None: never counted)."""

    max_age_ns: int | None = None
    capacity: int = 1024
    when_full: WhenFull = "drop_oldest"
    late_after_ns: int | None = None

    def __post_init__(self) -> None:
        if self.capacity < 1:
            raise ValueError(f"capacity: expected >= 1, got {self.capacity}")
        if self.max_age_ns is not None and self.max_age_ns <= 0:
            raise ValueError(f"max_age_ns: expected > 0 or None, got {self.max_age_ns}")
        if self.late_after_ns is not None and self.late_after_ns < 0:
            raise ValueError(f"late_after_ns: expected >= 0 or None, got {self.late_after_ns}")
        if self.when_full not in ("drop_oldest", "drop_newest", "block"):
            raise ValueError(f"when_full: expected drop_oldest, drop_newest or block, got {self.when_full!r}")


class Lanes:
    """Thread-safe lanes between producers (sources, stage workers, plugins) and the one router thread.

    :param on_drop: called with ``(key, product)`` for each input a full queue dropped.
    :param on_stale: called with ``(key, product)`` for each input shed because it waited too long.
    :param on_late: called with ``(key, product)`` for each input whose event time was already late on arrival
        (it is queued and processed all the same).
    """

    def __init__(self, *, default_policy: InputPolicy = InputPolicy(), clock: Clock = SYSTEM_CLOCK,
                 on_drop: Callable[[str, object], None] | None = None,
                 on_stale: Callable[[str, object], None] | None = None,
                 on_late: Callable[[str, object], None] | None = None,
                 safety_high_water: int = 2_000, safety_low_water: int = 500) -> None:
        if not 0 <= safety_low_water <= safety_high_water:
            raise ValueError("expected 0 <= safety_low_water <= safety_high_water")
        self._default = default_policy
        self._policies: dict[str, InputPolicy] = {}
        self._clock = clock
        self._on_drop = on_drop or (lambda key, product: None)
        self._on_stale = on_stale or (lambda key, product: None)
        self._on_late = on_late or (lambda key, product: None)
        self._high, self._low = safety_high_water, safety_low_water
        self._cond = threading.Condition()
        self._safety: deque[Envelope] = deque()
        self._inputs: dict[Lane, dict[str, deque[Envelope]]] = {Lane.DERIVED: {}, Lane.SENSOR: {}}
        self._unfinished = 0
        self._pressure = False
        self._closed = False
        self.backpressure_waits = 0
        self.safety_max_depth = 0
        self._last_put: dict[str, int] = {}  # product source -> monotonic ns of its newest input

    # -- configuration -------------------------------------------------------------------------------
    def set_policy(self, key: str, policy: InputPolicy) -> None:
        """Use ``policy`` for inputs of ``key`` (e.g. one source)."""
        with self._cond:
            self._policies[key] = policy

    def policy(self, key: str) -> InputPolicy:
        return self._policies.get(key, self._default)

    # -- producers -----------------------------------------------------------------------------------
    def put(self, envelope: Envelope, key: str) -> bool:
        """Queue ``envelope`` under ``key``; False when a full queue refused it (counted)."""
        with self._cond:
            self._last_put[envelope.product.source] = envelope.t_ingest_ns
            if envelope.lane is Lane.SAFETY:
                self._safety.append(envelope)
                self.safety_max_depth = max(self.safety_max_depth, len(self._safety))
                if len(self._safety) > self._high:
                    self._pressure = True
                self._unfinished += 1
                self._cond.notify_all()
                return True
            if envelope.lane is Lane.SENSOR and self._pressure:
                self.backpressure_waits += 1
                while self._pressure and not self._closed:
                    self._cond.wait(0.05)
            policy = self._policies.get(key, self._default)
            q = self._inputs[envelope.lane].setdefault(key, deque())
            if len(q) >= policy.capacity:
                if policy.when_full == "block":
                    while len(q) >= policy.capacity and not self._closed:
                        self._cond.wait(0.05)
                if len(q) >= policy.capacity:
                    if policy.when_full == "drop_oldest" and not self._closed:
                        old = q.popleft()
                        self._unfinished -= 1
                        self._on_drop(key, old.product)
                    else:
                        self._on_drop(key, envelope.product)
                        return False
            if policy.late_after_ns is not None and (
                    policy.late_after_ns < self._clock.wall_ns() - envelope.product.t_event_ns <= _ON_BOX_CLOCK):
                self._on_late(key, envelope.product)
            q.append(envelope)
            self._unfinished += 1
            self._cond.notify_all()
            return True

    # -- the router ----------------------------------------------------------------------------------
    def take(self, timeout_s: float) -> Envelope | None:
        """The next envelope by lane priority, or None after ``timeout_s`` without one. Call
        :meth:`task_done` once it has been handled."""
        deadline = time.monotonic() + timeout_s
        with self._cond:
            while True:
                env = self._next()
                if env is not None:
                    return env
                left = deadline - time.monotonic()
                if left <= 0:
                    return None
                self._cond.wait(left)

    def _next(self) -> Envelope | None:
        if self._safety:
            env = self._safety.popleft()
            if self._pressure and len(self._safety) <= self._low:
                self._pressure = False
            self._cond.notify_all()
            return env
        now = self._clock.monotonic_ns()
        for lane in (Lane.DERIVED, Lane.SENSOR):
            best_key, best_t = None, None
            for key, q in self._inputs[lane].items():
                max_age = self._policies.get(key, self._default).max_age_ns
                while q and max_age is not None and now - q[0].t_ingest_ns > max_age:
                    stale = q.popleft()
                    self._unfinished -= 1
                    self._on_stale(key, stale.product)
                if q and (best_t is None or q[0].t_ingest_ns < best_t):
                    best_key, best_t = key, q[0].t_ingest_ns
            if best_key is not None:
                env = self._inputs[lane][best_key].popleft()
                self._cond.notify_all()
                return env
        if self._unfinished == 0:
            self._cond.notify_all()
        return None

    def task_done(self) -> None:
        with self._cond:
            self._unfinished -= 1
            if self._unfinished <= 0:
                self._cond.notify_all()

    def join(self, timeout_s: float | None = None) -> bool:
        """Wait until everything queued has been taken and handled (or shed); False on timeout."""
        deadline = None if timeout_s is None else time.monotonic() + timeout_s
        with self._cond:
            while self._unfinished > 0:
                left = None if deadline is None else deadline - time.monotonic()
                if left is not None and left <= 0:
                    return False
                self._cond.wait(0.05 if left is None else min(left, 0.05))
            return True

    def close(self) -> None:
        """Release producers blocked on a full queue or on back-pressure (what they hold is dropped, counted)."""
        with self._cond:
            self._closed = True
            self._pressure = False
            self._cond.notify_all()

    # -- introspection -------------------------------------------------------------------------------
    def last_put_ns(self, source: str) -> int | None:
        """When products of ``source`` (the products' ``source`` field) last entered a lane (monotonic ns)."""
        return self._last_put.get(source)

    def depths(self) -> dict[str, int]:
        with self._cond:
            out = {"safety": len(self._safety)}
            for lane, queues in self._inputs.items():
                out[lane.name.lower()] = sum(len(q) for q in queues.values())
            return out

    def pending(self) -> list[Envelope]:
        """Everything queued, safety first (tests, diagnostics)."""
        with self._cond:
            out = list(self._safety)
            for lane in (Lane.DERIVED, Lane.SENSOR):
                for q in self._inputs[lane].values():
                    out.extend(q)
            return out

    def stats(self) -> dict[str, int]:
        return {**self.depths(), "safety_max_depth": self.safety_max_depth,
                "backpressure_waits": self.backpressure_waits}
