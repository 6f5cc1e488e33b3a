"""The Python operator of the Kafka-fed job: called once per batch, every one of its key's products that one
watermark advance released, in event-time order.

The JVM half (``deploy/flink/job``: ``rsu.flink.OrderedBatcher``) reads each record's key and event time, keys it
and holds it until the watermark passes it; :class:`BatchOperatorsFunction` gets ``bytes``: the watermark, the
key and the envelopes (:func:`~rsu.pipeline.flink.batch_codec.decode_batch`). It runs the operator on each product, and fires the operator's own
timers in between, in time order, exactly where the embedded runner would: a timer at ``t`` fires after the
products of millisecond ``t`` and before later ones; what is still due at the batch's watermark fires after the
last product. The operator's timers live in keyed state (``__timers``), with one Flink timer at the earliest, so
a key that receives nothing still gets its timers. State is read once per key and written once per batch.

Its output is one ``bytes`` per batch (:func:`~rsu.pipeline.flink.batch_codec.encode_results`): every result as topic, key, event time (ms) and
the v1 envelope (``seq`` counts per key in keyed state, so it is restored with the checkpoint); the JVM splits it
into Kafka records.
"""

from __future__ import annotations

import bisect
import logging
from collections.abc import Iterable, Sequence
from typing import Any

from pyflink.datastream import KeyedProcessFunction, RuntimeContext

from rsu.pipeline.flink.batch_codec import decode_batch, encode_results
from rsu.pipeline.flink.functions import SEP, OperatorsFunction, _Ctx, _ValueState
from rsu.pipeline.flink.records import RecordError, envelope_bytes, from_envelope, product_name
from rsu.pipeline.operators import Operator, timer_ms
from rsu.pipeline.watermarks import END_OF_INPUT

__all__ = ["BatchOperatorsFunction"]

log = logging.getLogger(__name__)
_NS = 1_000_000
_LONG_MAX = 2**63 - 1
def _bucket_ms(t_ns: int) -> int:
    t = timer_ms(t_ns)
    return _LONG_MAX if t >= END_OF_INPUT else t // _NS


class _BatchCtx(_Ctx):
    """The operator's context in a batch: the batch's watermark, timers kept in the key's ``__timers`` list."""

    __slots__ = ("watermark_ms", "timers")

    def __init__(self, fn: OperatorsFunction) -> None:
        super().__init__(fn)
        self.watermark_ms: int | None = None
        self.timers: list[int] = []

    @property
    def watermark_ns(self) -> int:
        if self.watermark_ms is None:
            return _Ctx.watermark_ns.fget(self)  # type: ignore[attr-defined]
        wm = self.watermark_ms
        if wm >= _LONG_MAX:
            return END_OF_INPUT
        return wm if wm < 0 else wm * _NS + (_NS - 1)

    def register_timer(self, t_ns: int) -> None:
        t = _bucket_ms(t_ns)
        i = bisect.bisect_left(self.timers, t)
        if i == len(self.timers) or self.timers[i] != t:
            self.timers.insert(i, t)


class BatchOperatorsFunction(OperatorsFunction):
    """One batch of a key in, one ``bytes`` of results out (see the module docstring)."""

    def __init__(self, operators: Sequence[Operator], output_prefix: str, boot: str) -> None:
        super().__init__(operators, None)
        self.output_prefix = output_prefix
        self.boot = boot

    def open(self, runtime_context: RuntimeContext) -> None:
        super().open(runtime_context)
        self._ctx = _BatchCtx(self)
        self.bad = 0
        self.batches = 0
        self.products = 0

    def close(self) -> None:
        log.info("operators: %d batches, %d products, %d skipped", self.batches, self.products, self.bad)
        super().close()

    def _enter(self, key: str, flink_ctx: Any) -> tuple[Operator, _BatchCtx, list[int], Any]:
        idx, _, op_key = key.partition(SEP)
        op = self.operators[int(idx)]
        c: _BatchCtx = self._ctx  # type: ignore[assignment]
        c._op, c.key, c._flink_ctx = op.name, op_key, flink_ctx
        self.current_key = key
        held = _ValueState(self, "__timers").value()
        c.timers = list(held[1]) if held else []
        return op, c, list(held) if held else [None, []], held

    def _fire_until(self, op: Operator, c: _BatchCtx, limit: int, site: str, out: list[tuple[Any, str]]) -> None:
        while c.timers and c.timers[0] <= limit:
            t = c.timers.pop(0)
            c.timestamp_ns = END_OF_INPUT if t >= _LONG_MAX else t * _NS
            out.extend((p, site) for p in op.on_timer(c.timestamp_ns, c) or ())

    def _leave(self, c: _BatchCtx, before: list[Any], held: Any, flink_ctx: Any) -> None:
        registered = before[0]
        if c.timers and c.timers[0] != registered:
            registered = c.timers[0]
            flink_ctx.timer_service().register_event_time_timer(registered)
        if held is None and not c.timers:
            return
        now = [registered if c.timers else None, tuple(c.timers)]
        if held is None or list(held) != now:
            _ValueState(self, "__timers").update(now)

    def process_element(self, value: bytes, ctx: KeyedProcessFunction.Context) -> Iterable[bytes]:
        watermark, key, items = decode_batch(value)
        self.batches += 1
        self.products += len(items)
        op, c, before, held = self._enter(key, ctx)
        c.watermark_ms = watermark
        site_state = _ValueState(self, "__site")
        site = site_state.value() or ""
        out: list[tuple[Any, str]] = []
        try:
            for raw in items:
                try:
                    site, element, _ = from_envelope(raw, f"batch of {key}")
                except RecordError as exc:
                    self.bad += 1
                    if self.bad <= 5 or self.bad % 1000 == 0:
                        log.warning("skipped (%d so far): %s", self.bad, exc)
                    continue
                t_ns = int(element.t_event_ns)
                self._fire_until(op, c, _bucket_ms(t_ns) - 1, site, out)
                c.timestamp_ns = t_ns
                out.extend((p, site) for p in op.process(element, c) or ())
            self._fire_until(op, c, watermark, site, out)
            if site and site != site_state.value():
                site_state.update(site)
            self._leave(c, before, held, ctx)
            result = self._results(key, out)
        finally:
            c.watermark_ms = None
            self.flush_state()
        if result:
            yield result

    def on_timer(self, timestamp: int, ctx: KeyedProcessFunction.OnTimerContext) -> Iterable[bytes]:
        key = ctx.get_current_key()
        key = key[0] if not isinstance(key, str) else key
        op, c, before, held = self._enter(key, ctx)
        if before[0] == timestamp:
            before[0] = None  # this Flink timer has fired: the next earliest needs one of its own
        out: list[tuple[Any, str]] = []
        try:
            self._fire_until(op, c, timestamp, _ValueState(self, "__site").value() or "", out)
            self._leave(c, before, held, ctx)
            result = self._results(key, out)
        finally:
            self.flush_state()
        if result:
            yield result

    def _results(self, key: str, out: list[tuple[Any, str]]) -> bytes:
        if not out:
            return b""
        seq_state = _ValueState(self, "__seq")
        seq = seq_state.value() or 0
        rows = []
        for product, site in out:
            seq += 1
            topic = f"{self.output_prefix}.{product_name(product).replace('/', '.')}"
            rows.append((topic, key, int(product.t_event_ns) // _NS, envelope_bytes(product, site, seq, self.boot)))
        seq_state.update(seq)
        return encode_results(rows)
