"""The operators inside PyFlink DataStream functions.

- :class:`Route` (FlatMapFunction): a socket line (a micro-batch) -> ``(key, t_ms, [(t_fed_ns, element)...])``
  per key, one entry for each operator that handles the element; the key is ``<operator index>|<operator
  key>``, so one keyed stream carries every operator and each keeps its own keys.
- :class:`EventTime` (TimestampAssigner): the record's event time in ms (the latest of its elements).
- :class:`OperatorsFunction` (KeyedProcessFunction): calls the operator on each element in order, with a
  context backed by Flink ValueState/ListState (pickled), timers and the watermark; outputs one list of
  ``(product, operator, t_fed, t_op)`` per record.
- :class:`Publish` (FlatMapFunction): pushes each list of outputs to the host in one message (the job pushes
  from :class:`OperatorsFunction` itself; this stays for graphs that need the outputs as records).
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from typing import Any

from pyflink.common import Types
from pyflink.common.watermark_strategy import TimestampAssigner
from pyflink.datastream import FlatMapFunction, KeyedProcessFunction, RuntimeContext
from pyflink.datastream.state import ListStateDescriptor, ValueStateDescriptor

from rsu.pipeline.codec import decode_batch_line
from rsu.pipeline.operators import Operator
from rsu.pipeline.watermarks import END_OF_INPUT

__all__ = ["Route", "EventTime", "OperatorsFunction", "Publish", "SEP"]

SEP = "|"
_NS = 1_000_000
_LONG_MAX = 2**63 - 1


def _to_ns(t_ms: int) -> int:
    return END_OF_INPUT if t_ms >= _LONG_MAX else t_ms * _NS


class Route(FlatMapFunction):
    """A line (a micro-batch from the feeder) -> one record per routed key: ``(key, max t_ms, [(t_fed, e)...])``,
    the elements of each key in feed order. The record's event time is the latest of its elements, so the
    watermark (max event time seen - out-of-orderness) advances exactly as with one record per element."""

    def __init__(self, operators: Sequence[Operator]) -> None:
        self.operators = list(operators)
        self._routes: dict[type, list[tuple[int, Operator]]] = {}

    def flat_map(self, line: str) -> Iterable[tuple[str, int, list[tuple[int, Any]]]]:
        try:
            items = decode_batch_line(line)
        except Exception:
            return  # a torn line: nothing to route (counted on the host by the feeder's peer, not here)
        groups: dict[str, list[tuple[int, Any]]] = {}
        latest: dict[str, int] = {}
        for t_fed, element in items:
            kind = type(element)
            routes = self._routes.get(kind)
            if routes is None:
                routes = self._routes[kind] = [(i, op) for i, op in enumerate(self.operators)
                                               if issubclass(kind, op.handles)]
            t_ms = int(element.t_event_ns) // _NS
            for i, op in routes:
                key = f"{i}{SEP}{op.key(element)}"
                group = groups.get(key)
                if group is None:
                    groups[key], latest[key] = [(t_fed, element)], t_ms
                else:
                    group.append((t_fed, element))
                    if t_ms > latest[key]:
                        latest[key] = t_ms
        for key, group in groups.items():
            yield key, latest[key], group


class EventTime(TimestampAssigner):
    def extract_timestamp(self, value: Any, record_timestamp: int) -> int:
        return value[1]


class _ValueState:
    """Flink ValueState with a per-key cache of the live object: reads cost nothing after the first; an
    ``update`` is written (pickled) to Flink once at the end of the record (a micro-batch of one key), before
    any checkpoint can be taken, so checkpoints hold it."""

    __slots__ = ("_fn", "_name")

    def __init__(self, fn: OperatorsFunction, name: str) -> None:
        self._fn, self._name = fn, name

    def value(self) -> Any:
        ck = (self._name, self._fn.current_key)
        cache = self._fn.cache
        if ck in cache:
            return cache[ck]
        v = self._fn.flink_value(self._name).value()
        cache[ck] = v
        return v

    def update(self, value: Any) -> None:
        self._fn.cache[(self._name, self._fn.current_key)] = value
        self._fn.dirty.add(self._name)

    def clear(self) -> None:
        self.update(None)


class _ListState:
    __slots__ = ("_state",)

    def __init__(self, state: Any) -> None:
        self._state = state

    def get(self) -> list[Any]:
        return list(self._state.get() or [])

    def add(self, value: Any) -> None:
        self._state.add(value)

    def update(self, values: Iterable[Any]) -> None:
        self._state.update(list(values))

    def clear(self) -> None:
        self._state.clear()


class _Ctx:
    __slots__ = ("_fn", "_op", "key", "timestamp_ns", "_flink_ctx")

    def __init__(self, fn: OperatorsFunction) -> None:
        self._fn = fn
        self._op = ""
        self.key = ""
        self.timestamp_ns: int | None = None
        self._flink_ctx: Any = None

    @property
    def watermark_ns(self) -> int:
        wm = self._flink_ctx.timer_service().current_watermark()
        if wm >= _LONG_MAX:
            return END_OF_INPUT
        return wm if wm < 0 else wm * _NS + (_NS - 1)

    def value_state(self, name: str) -> _ValueState:
        return _ValueState(self._fn, f"{self._op}.{name}")

    def list_state(self, name: str) -> _ListState:
        return _ListState(self._fn.flink_list(f"{self._op}.{name}"))

    def register_timer(self, t_ns: int) -> None:
        from rsu.pipeline.operators import timer_ms

        t = timer_ms(t_ns)
        self._flink_ctx.timer_service().register_event_time_timer(_LONG_MAX if t >= END_OF_INPUT else t // _NS)


class OperatorsFunction(KeyedProcessFunction):
    """With ``endpoint``, each record's outputs are pushed to the host from here (one message, no record
    downstream: that saves a Java<->Python crossing per record); without, they are emitted as one list."""

    def __init__(self, operators: Sequence[Operator], endpoint: str | None = None) -> None:
        self.operators = list(operators)
        self.endpoint = endpoint

    def open(self, runtime_context: RuntimeContext) -> None:
        self._rc = runtime_context
        self._values: dict[str, Any] = {}
        self._lists: dict[str, Any] = {}
        self.cache: dict[tuple[str, str], Any] = {}
        self.dirty: set[str] = set()
        self.current_key = ""
        self._ctx = _Ctx(self)
        self._pusher: Any = None
        if self.endpoint is not None:
            from rsu.pipeline.flink.publish import JobPusher

            self._pusher = JobPusher(self.endpoint)
            self._pusher.open()
        for op in self.operators:
            op.open()

    def flink_value(self, name: str) -> Any:
        st = self._values.get(name)
        if st is None:
            st = self._values[name] = self._rc.get_state(ValueStateDescriptor(name, Types.PICKLED_BYTE_ARRAY()))
        return st

    def flink_list(self, name: str) -> Any:
        st = self._lists.get(name)
        if st is None:
            st = self._lists[name] = self._rc.get_list_state(ListStateDescriptor(name, Types.PICKLED_BYTE_ARRAY()))
        return st

    def flush_state(self) -> None:
        """Write the values updated during this record to Flink state (once per name, the latest value)."""
        key = self.current_key
        for name in self.dirty:
            value = self.cache[(name, key)]
            if value is None:
                self.flink_value(name).clear()
            else:
                self.flink_value(name).update(value)
        self.dirty.clear()

    def process_element(self, value: tuple[str, int, list[tuple[int, Any]]], ctx: KeyedProcessFunction.Context
                        ) -> Iterable[list[tuple[Any, str, int, int]]]:
        key, _, items = value
        idx, _, op_key = key.partition(SEP)
        op = self.operators[int(idx)]
        c = self._ctx
        c._op, c.key, c._flink_ctx = op.name, op_key, ctx
        self.current_key = key
        out: list[tuple[Any, str, int, int]] = []
        try:
            for t_fed, element in items:
                t_op = time.time_ns()
                c.timestamp_ns = int(element.t_event_ns)
                for product in op.process(element, c) or ():
                    out.append((product, op.name, t_fed, t_op))
        finally:
            self.flush_state()
        yield from self._emit(out)

    def _emit(self, out: list[tuple[Any, str, int, int]]) -> Iterable[list[tuple[Any, str, int, int]]]:
        if not out:
            return
        if self._pusher is not None:
            self._pusher.push_many(out)
        else:
            yield out

    def on_timer(self, timestamp: int, ctx: KeyedProcessFunction.OnTimerContext
                 ) -> Iterable[list[tuple[Any, str, int, int]]]:
        key = ctx.get_current_key()
        idx, _, op_key = key.partition(SEP)
        op = self.operators[int(idx)]
        t_ns = _to_ns(timestamp)
        c = self._ctx
        c._op, c.key, c.timestamp_ns, c._flink_ctx = op.name, op_key, t_ns, ctx
        self.current_key = key
        now = time.time_ns()
        try:
            out = [(product, op.name, now, now) for product in op.on_timer(t_ns, c) or ()]
        finally:
            self.flush_state()
        yield from self._emit(out)

    def close(self) -> None:
        for op in self.operators:
            op.close()
        if self._pusher is not None:
            self._pusher.close()


class Publish(FlatMapFunction):
    def __init__(self, endpoint: str) -> None:
        self.endpoint = endpoint

    def open(self, runtime_context: RuntimeContext) -> None:
        from rsu.pipeline.flink.publish import JobPusher

        self._pusher = JobPusher(self.endpoint)
        self._pusher.open()

    def flat_map(self, value: list[tuple[Any, str, int, int]]) -> Iterable[Any]:
        self._pusher.push_many(value)
        return ()

    def close(self) -> None:
        self._pusher.close()
