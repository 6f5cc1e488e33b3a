"""The embedded runner: runs the operators in the host process, on the Box's routing thread.

It is a :class:`rsu.core.stage.Stage` (``name``, ``handles``, ``open``, ``process``, ``finish``, ``stats``), so
the Box routes source products into it and its outputs on to the stages after it and the sink. It keeps keyed
state in memory, keeps one bounded-out-of-orderness watermark per source (the operators' watermark is the
minimum over the active sources; an idle source stops holding it back), fires event-time timers,
checkpoints to local disk every ``checkpoint_interval_s`` and at finish, and restores at open: elements below
what the checkpoint had already processed (per product type and source) are skipped, and at that newest time
as many as it had processed (devices of one source share times), so a replayed input resumes where the state
left off.
"""

from __future__ import annotations

import heapq
import logging
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from rsu_sdk import Product

from rsu.core.clock import CLOCK_STEP_NS

from rsu.pipeline.checkpoint import Checkpointer
from rsu.pipeline.operators import Operator, timer_ms
from rsu.pipeline.state import ListState, MemoryStateStore, ValueState
from rsu.pipeline.watermarks import END_OF_INPUT, SourceWatermarks

__all__ = ["EmbeddedRunner", "fingerprint"]

log = logging.getLogger(__name__)


def fingerprint(operators: Sequence[Operator]) -> str:
    """Names, classes and state versions of the operators: a checkpoint restores only into the same set."""
    return ";".join(f"{op.name}={type(op).__module__}.{type(op).__qualname__}/v{op.state_version}"
                    for op in operators)


class _Ctx:
    """The context handed to operators; one reused instance, re-scoped per element (cheap)."""

    __slots__ = ("_runner", "_op", "key", "timestamp_ns")

    def __init__(self, runner: EmbeddedRunner) -> None:
        self._runner = runner
        self._op = ""
        self.key = ""
        self.timestamp_ns: int | None = None

    @property
    def watermark_ns(self) -> int:
        return self._runner.watermarks.watermark

    def value_state(self, name: str) -> ValueState:
        return self._runner.store.value_state(self._op, name, self.key)

    def list_state(self, name: str) -> ListState:
        return self._runner.store.list_state(self._op, name, self.key)

    def register_timer(self, t_ns: int) -> None:
        self._runner._add_timer(self._op, self.key, timer_ms(t_ns))


class EmbeddedRunner:
    """Runs ``operators`` in process. ``stats`` (a :class:`rsu.core.stats.RunStats`) gets late events.

    :param idle_timeout_ms: a source silent this long (processing time) stops holding the watermark back.
    :param activity: ``activity(source) -> monotonic ns`` of that source's last input (the box's lanes).
    """

    name = "operators"

    def __init__(self, operators: Sequence[Operator], *, out_of_orderness_ms: float = 200.0,
                 checkpointer: Checkpointer | None = None, checkpoint_interval_s: float = 5.0,
                 stats: Any = None, idle_timeout_ms: float | None = 2_000.0,
                 activity: Callable[[str], int | None] | None = None) -> None:
        names = [op.name for op in operators]
        if len(set(names)) != len(names):
            raise ValueError(f"operator names must be unique, got {names}")
        self.operators = {op.name: op for op in operators}
        self.handles: tuple[type, ...] = tuple({t for op in operators for t in op.handles})
        self._routes: dict[type, list[Operator]] = {}
        self.store = MemoryStateStore()
        self.watermarks = SourceWatermarks(int(out_of_orderness_ms * 1e6),
                                           None if idle_timeout_ms is None else int(idle_timeout_ms * 1e6),
                                           activity=activity,
                                           warmup_ns=None if activity is None or idle_timeout_ms is None
                                           else int(idle_timeout_ms * 1e6))
        self.checkpointer = checkpointer
        self.checkpoint_interval_s = checkpoint_interval_s
        self._run_stats = stats
        self._timers: list[tuple[int, str, str]] = []  # (t, operator, key), heap
        self._timer_set: set[tuple[int, str, str]] = set()
        self._ctx = _Ctx(self)
        self.counts: dict[str, Counter[str]] = defaultdict(Counter)
        self.high_water: dict[str, int] = {}  # "<type>/<source>" -> newest event time processed
        self.high_water_n: dict[str, int] = {}  # ... and how many elements of that source had exactly that time
        self._resume_from: dict[str, int] = {}
        self._resume_n: dict[str, int] = {}  # elements at exactly the restored time still to skip
        self._last_checkpoint = time.monotonic()
        self._opened = False

    # ------------------------------------------------------------------ lifecycle
    def open(self) -> None:
        """Restore the newest checkpoint (if any), then open every operator."""
        if self._opened:
            return
        self._opened = True
        if self.checkpointer is not None:
            snap = self.checkpointer.load_latest()
            if snap is not None:
                self._restore(snap)
        for op in self.operators.values():
            op.open()
        self._last_checkpoint = time.monotonic()

    def finish(self, end_of_input: bool = False) -> list[Product]:
        """At end of input: move the watermark to the end and fire every timer. Then checkpoint."""
        self.open()
        out: list[Product] = []
        if end_of_input:
            self.watermarks.end_of_input()
            out = self._fire_timers()
        if self.checkpointer is not None:
            self.checkpoint()
        for op in self.operators.values():
            op.close()
        return out

    # ------------------------------------------------------------------ per element
    def _route(self, kind: type) -> list[Operator]:
        ops = self._routes.get(kind)
        if ops is None:
            ops = self._routes[kind] = [op for op in self.operators.values() if issubclass(kind, op.handles)]
        return ops

    def process(self, element: Product) -> list[Product]:
        """Hand ``element`` to every operator that handles it; return what they (and due timers) emit."""
        if not self._opened:
            self.open()
        t = int(element.t_event_ns)
        mark = f"{type(element).__name__}/{element.source}"
        if self._resume_from:
            done = self._resume_from.get(mark)
            if done is not None:
                # several elements of one source may share an event time (a plant's devices sampled
                # together): skip as many at ``done`` as the checkpoint had processed (all, for old ones)
                if t < done or (t == done and self._resume_n.get(mark, 1 << 62) > 0):
                    if t == done:
                        self._resume_n[mark] = self._resume_n.get(mark, 1 << 62) - 1
                    self.counts["runner"]["replayed_skipped"] += 1
                    return []
                del self._resume_from[mark]
        out: list[Product] = []
        if self.watermarks.is_step_back(t):
            out.extend(self._step_back(mark, t))
        late = self.watermarks.is_late(t)
        ctx = self._ctx
        for op in self._route(type(element)):
            counts = self.counts[op.name]
            counts["in"] += 1
            if late:
                counts["late"] += 1
                if self._run_stats is not None:
                    self._run_stats.late_event(op.name)
            try:
                ctx._op, ctx.key, ctx.timestamp_ns = op.name, op.key(element), t
                produced = op.process(element, ctx)
                if produced:
                    out.extend(produced)
            except Exception:
                counts["errors"] += 1
                if counts["errors"] <= 5 or counts["errors"] % 1000 == 0:
                    log.exception("operator %s failed on a %s from %s", op.name, type(element).__name__,
                                  element.source)
        hw = self.high_water.get(mark, -1)
        if t > hw:
            self.high_water[mark] = t
            self.high_water_n[mark] = 1
        elif t == hw:
            self.high_water_n[mark] = self.high_water_n.get(mark, 0) + 1
        if self.watermarks.on_event(t, element.source) and self._timers and self._timers[0][0] <= self.watermarks.watermark:
            out.extend(self._fire_timers())
        if self.checkpointer is not None and time.monotonic() - self._last_checkpoint >= self.checkpoint_interval_s:
            self.checkpoint()
        return out

    def _step_back(self, mark: str, t: int) -> list[Product]:
        """The clock stamping ``mark`` was set back (``t`` is far behind the watermark): fire the old
        timeline's timers (not those at end of input), start a new watermark, and let the source's high-water
        mark follow, so neither the dataflow nor a restart waits for the clock to catch up."""
        self.counts["runner"]["clock_steps_back"] += 1
        if self.counts["runner"]["clock_steps_back"] <= 3 or self.counts["runner"]["clock_steps_back"] % 100 == 0:
            log.warning("%s: event time %.0f s behind the watermark: the clock was set back; a new timeline starts",
                        mark, (self.watermarks.watermark - t) / 1e9)
        pending = [entry[0] for entry in self._timers if entry[0] < END_OF_INPUT]
        out: list[Product] = []
        if pending:
            self.watermarks.watermark = max(pending)
            out = self._fire_timers()
        self.watermarks.step_back()
        for name in [m for m, hw in self.high_water.items() if hw > t]:
            self.high_water[name] = t
            self.high_water_n[name] = 0
        return out

    def run(self, elements: Iterable[Product], end_of_input: bool = True) -> list[Product]:
        """Process ``elements`` in order, then close; returns every output (for tests and tools)."""
        self.open()
        out: list[Product] = []
        for e in elements:
            out.extend(self.process(e))
        out.extend(self.finish(end_of_input))
        return out

    # ------------------------------------------------------------------ timers
    def _add_timer(self, op: str, key: str, t: int) -> None:
        entry = (t, op, key)
        if entry not in self._timer_set:
            self._timer_set.add(entry)
            heapq.heappush(self._timers, entry)

    def _fire_timers(self) -> list[Product]:
        out: list[Product] = []
        wm, ctx = self.watermarks.watermark, self._ctx
        while self._timers and self._timers[0][0] <= wm:
            entry = heapq.heappop(self._timers)
            self._timer_set.discard(entry)
            t, name, key = entry
            op = self.operators[name]
            self.counts[name]["timers"] += 1
            ctx._op, ctx.key, ctx.timestamp_ns = name, key, t
            try:
                out.extend(op.on_timer(t, ctx))
            except Exception:
                self.counts[name]["errors"] += 1
                log.exception("operator %s failed in on_timer(%d) for key %s", name, t, key)
        return out

    # ------------------------------------------------------------------ checkpoints
    def checkpoint(self) -> None:
        """Write the state, timers, watermark and high-water marks now."""
        if self.checkpointer is None:
            return
        try:
            self.checkpointer.save({
                "tables": self.store.snapshot(), "timers": list(self._timers),
                "watermark": self.watermarks.watermark, "max_t": self.watermarks.max_t,
                "source_max": dict(self.watermarks.source_max),
                "high_water": dict(self.high_water), "high_water_n": dict(self.high_water_n),
            })
        except OSError as exc:  # a full disk must not stop the box; the next interval tries again
            if not self.counts["runner"]["checkpoint_errors_in_a_row"]:
                log.error("checkpoint to %s failed: %s; the last good checkpoint stays, retrying every %g s",
                          self.checkpointer.dir, exc, self.checkpoint_interval_s)
            self.counts["runner"]["checkpoint_errors"] += 1
            self.counts["runner"]["checkpoint_errors_in_a_row"] += 1
        except Exception:  # noqa: BLE001 - state that cannot be pickled: counted, the box runs on
            log.exception("checkpoint to %s failed", self.checkpointer.dir)
            self.counts["runner"]["checkpoint_errors"] += 1
        else:
            if self.counts["runner"]["checkpoint_errors_in_a_row"]:
                log.warning("checkpoint to %s written again after %d failed attempts", self.checkpointer.dir,
                            self.counts["runner"]["checkpoint_errors_in_a_row"])
                self.counts["runner"]["checkpoint_errors_in_a_row"] = 0
        self._last_checkpoint = time.monotonic()

    def _restore(self, snap: dict[str, Any]) -> None:
        self.store.restore(snap["tables"])
        self._timers = [tuple(t) for t in snap["timers"]]  # type: ignore[misc]
        heapq.heapify(self._timers)
        self._timer_set = set(self._timers)
        self.watermarks.watermark = snap["watermark"]
        self.watermarks.max_t = snap["max_t"]
        self.watermarks.source_max = dict(snap.get("source_max", {}))
        limit = time.time_ns() + CLOCK_STEP_NS  # no event time is ahead of the clock: a mark that is was
        ahead = {m for m, hw in snap["high_water"].items() if hw > limit}  # written by a clock set ahead
        if ahead:
            self.counts["runner"]["high_water_discarded"] += len(ahead)
            log.warning("checkpoint: high-water marks of %s are ahead of the clock; not resumed from",
                        ", ".join(sorted(ahead)))
        self.high_water = {m: hw for m, hw in snap["high_water"].items() if m not in ahead}
        self.high_water_n = {m: n for m, n in snap.get("high_water_n", {}).items() if m not in ahead}
        self._resume_from = dict(self.high_water)
        self._resume_n = dict(self.high_water_n)

    def stats(self) -> dict[str, Any]:
        return {
            "runner": "embedded",
            "operators": {name: {**dict(self.counts[name]), **op.stats()} for name, op in self.operators.items()},
            **dict(self.counts["runner"]),
            "watermark_ns": self.watermarks.watermark, "timers_pending": len(self._timers),
            "keys": {name: len(self.store.keys(name)) for name in self.operators},
            "checkpoint": None if self.checkpointer is None else self.checkpointer.stats(),
        }
