"""The operators inside the Kafka-fed job: JSON records in, event-time order per key, JSON results out.

- :class:`KafkaRoute` (FlatMapFunction): a v1 envelope from a product topic -> one record per operator that
  handles the product, ``(key, t_ms, [(t_publish, site, element)])`` with the key ``<operator index>|<key>``
  as in the socket runner. A record that does not decode is counted and skipped (logged the first times).
- :class:`OrderedOperatorsFunction` (KeyedProcessFunction): the products of one key reach it from several
  partitions (detections and radar are separate topics) in whatever order the source read them. It buffers
  each element in MapState under its event time (ms) and registers a timer there; when the watermark (per
  partition, from the record timestamps = event times) passes it, the elements of that millisecond go through
  the operator in event-time order, then the operator's own timers of that time fire. So the operator sees
  what the embedded runner sees on the same recording: its key's products in event-time order.
  Outputs: ``Row(topic, json, t_ms)`` for the KafkaSink (topic from the first column, the value from the
  second; :class:`ResultTime` makes the third the record timestamp: the product's event time);
  ``seq`` counts per key in keyed state, so it is restored with the checkpoint.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from typing import Any

from pyflink.common import Row, Types
from pyflink.common.watermark_strategy import TimestampAssigner
from pyflink.datastream import FlatMapFunction, KeyedProcessFunction, RuntimeContext
from pyflink.datastream.state import MapStateDescriptor

from rsu.pipeline.flink.functions import SEP, OperatorsFunction, _Ctx, _to_ns
from rsu.pipeline.flink.records import RecordError, from_envelope, product_name, to_envelope
from rsu.pipeline.operators import Operator, timer_ms
from rsu.pipeline.watermarks import END_OF_INPUT

__all__ = ["KafkaRoute", "OrderedOperatorsFunction", "ResultTime"]

log = logging.getLogger(__name__)
_NS = 1_000_000
_LONG_MAX = 2**63 - 1
_KINDS = {"Detections": 0, "RadarScan": 1, "SensorReading": 2}


def _bucket_ms(t_ns: int) -> int:
    t = timer_ms(t_ns)
    return _LONG_MAX if t >= END_OF_INPUT else t // _NS


class KafkaRoute(FlatMapFunction):
    """A product record -> ``(key, t_ms, [(t_publish_ns, site, element)])`` per operator handling it."""

    def __init__(self, operators: Sequence[Operator]) -> None:
        self.operators = list(operators)
        self._routes: dict[type, list[tuple[int, Operator]]] = {}

    def open(self, runtime_context: RuntimeContext) -> None:
        self.bad = 0
        self.unrouted = 0

    def flat_map(self, value: str) -> Iterable[tuple[str, int, list[tuple[int, str, Any]]]]:
        try:
            site, element, t_publish = from_envelope(value, "kafka record")
        except RecordError as exc:
            self.bad += 1
            if self.bad <= 5 or self.bad % 1000 == 0:
                log.warning("skipped (%d so far): %s", self.bad, exc)
            return
        kind = type(element)
        routes = self._routes.get(kind)
        if routes is None:
            routes = self._routes[kind] = [(i, op) for i, op in enumerate(self.operators)
                                           if issubclass(kind, op.handles)]
        if not routes:
            self.unrouted += 1
        t_ms = int(element.t_event_ns) // _NS
        for i, op in routes:
            yield f"{i}{SEP}{op.key(element)}", t_ms, [(t_publish, site, element)]


class _OrderedCtx(_Ctx):
    """The operator's timers are kept in state too, so that :meth:`OrderedOperatorsFunction.on_timer` can tell
    them from the release of buffered elements."""

    __slots__ = ()

    def register_timer(self, t_ns: int) -> None:
        t = _bucket_ms(t_ns)
        self._fn.op_timers().put(t, True)
        self._flink_ctx.timer_service().register_event_time_timer(t)


class OrderedOperatorsFunction(OperatorsFunction):
    """Buffers each key's elements until the watermark passes them, runs them in event-time order, and emits
    ``Row(topic, json)`` results to ``<output_prefix>.<product>``."""

    def __init__(self, operators: Sequence[Operator], output_prefix: str, boot: str) -> None:
        super().__init__(operators, None)
        self.output_prefix = output_prefix
        self.boot = boot

    def open(self, runtime_context: RuntimeContext) -> None:
        super().open(runtime_context)
        self._ctx = _OrderedCtx(self)
        self._pending = runtime_context.get_map_state(
            MapStateDescriptor("__pending", Types.LONG(), Types.PICKLED_BYTE_ARRAY()))
        self._timers = runtime_context.get_map_state(
            MapStateDescriptor("__op_timers", Types.LONG(), Types.BOOLEAN()))

    def op_timers(self) -> Any:
        return self._timers

    def process_element(self, value: tuple[str, int, list[tuple[int, str, Any]]],
                        ctx: KeyedProcessFunction.Context) -> Iterable[Row]:
        _, _, items = value
        for item in items:
            t = _bucket_ms(int(item[2].t_event_ns))
            bucket = self._pending.get(t) or []
            bucket.append(item)
            self._pending.put(t, bucket)
            ctx.timer_service().register_event_time_timer(t)
        return ()

    def on_timer(self, timestamp: int, ctx: KeyedProcessFunction.OnTimerContext) -> Iterable[Row]:
        key = ctx.get_current_key()
        idx, _, op_key = key.partition(SEP)
        op = self.operators[int(idx)]
        c = self._ctx
        c._op, c.key, c._flink_ctx = op.name, op_key, ctx
        self.current_key = key
        out: list[tuple[Any, str]] = []
        site_state = self._state_value("__site")
        try:
            bucket = self._pending.get(timestamp)
            if bucket:
                self._pending.remove(timestamp)
                bucket.sort(key=lambda it: (int(it[2].t_event_ns), _KINDS.get(type(it[2]).__name__, 9),
                                            it[2].source))
                for _, site, element in bucket:
                    site_state.update(site)
                    c.timestamp_ns = int(element.t_event_ns)
                    out.extend((p, site) for p in op.process(element, c) or ())
            if self._timers.contains(timestamp):
                self._timers.remove(timestamp)
                c.timestamp_ns = _to_ns(timestamp)
                site = site_state.value() or ""
                out.extend((p, site) for p in op.on_timer(c.timestamp_ns, c) or ())
            rows = self._rows(out)
        finally:
            self.flush_state()
        yield from rows

    def _state_value(self, name: str) -> Any:
        from rsu.pipeline.flink.functions import _ValueState

        return _ValueState(self, name)

    def _rows(self, out: list[tuple[Any, str]]) -> list[Row]:
        if not out:
            return []
        seq_state = self._state_value("__seq")
        seq = seq_state.value() or 0
        rows = []
        for product, site in out:
            seq += 1
            topic = f"{self.output_prefix}.{product_name(product).replace('/', '.')}"
            rows.append(Row(topic, to_envelope(product, site, seq, self.boot), int(product.t_event_ns) // _NS))
        seq_state.update(seq)
        return rows


class ResultTime(TimestampAssigner):
    """A result's record timestamp: its product's event time (not the timer's: end-of-input timers fire at
    Long.MAX_VALUE, which a broker refuses)."""

    def extract_timestamp(self, value: Any, record_timestamp: int) -> int:
        return value[2]
