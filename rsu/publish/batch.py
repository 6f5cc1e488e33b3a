"""``rsu.batch/1``: several small messages of one topic in one message, while the uplink is slow (opt-in).

A batch goes out on the topic its items would have used, with the usual envelope (its own ``seq`` on that
topic, so ``seq`` stays contiguous) and ``items``: one object per message, each its ``schema``, ``t_event``
and data. :func:`unpack` turns a received batch back into the messages a subscriber would have seen
(``rsu tap`` uses it). docs/wire-format.md describes it; rsu/publish/schema_defs.py has its schema.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from typing import Any

import orjson

__all__ = ["BATCH_SCHEMA", "Batcher", "unpack"]

BATCH_SCHEMA = "rsu.batch/1"

Flush = Callable[[str, str | None, str, list[Any], int], None]
"""``flush(product, source, default_source, items, t_event_ns)``: publish one batch."""


class Batcher:
    """Collects items per topic; a topic's batch is flushed at ``max_items`` or after ``max_delay_ms``.

    Items are JSON-encoded when added (``orjson.Fragment``), so a bad one is refused at once, never
    spoiling a batch. Thread-safe; ``flush`` is called without the lock held.
    """

    def __init__(self, cfg: Any, flush: Flush, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.cfg = cfg
        self._flush = flush
        self._clock = clock
        self._lock = threading.Lock()
        self._open: dict[tuple[str, str | None, str], tuple[float, int, list[Any]]] = {}
        self.batches = 0
        self.items = 0

    def fits(self, product: str) -> bool:
        return self.cfg.enabled and product in self.cfg.products

    def add(self, product: str, source: str | None, default_source: str, schema: str, t_event_ns: int,
            data: Mapping[str, Any]) -> bool:
        """Queue one message; False when it is too big to batch (send it on its own)."""
        item = orjson.dumps({"schema": schema, "t_event": t_event_ns, **data}, option=orjson.OPT_SERIALIZE_NUMPY)
        if len(item) > self.cfg.max_item_bytes:
            return False
        key = (product, source, default_source)
        full = None
        with self._lock:
            since, t0, items = self._open.get(key) or (self._clock(), t_event_ns, [])
            items.append(orjson.Fragment(item))
            if len(items) >= self.cfg.max_items:
                full = self._open.pop(key, None) or (since, t0, items)
            else:
                self._open[key] = (since, t0, items)
        if full is not None:
            self._emit(key, full[1], full[2])
        return True

    def flush_due(self, *, everything: bool = False) -> None:
        """Flush batches older than ``max_delay_ms`` (all of them with ``everything``)."""
        limit = self._clock() - self.cfg.max_delay_ms / 1000.0
        with self._lock:
            due = [k for k, (since, _, _) in self._open.items() if everything or since <= limit]
            ready = [(k, self._open.pop(k)) for k in due]
        for key, (_, t0, items) in ready:
            self._emit(key, t0, items)

    def pending(self) -> int:
        with self._lock:
            return sum(len(v[2]) for v in self._open.values())

    def _emit(self, key: tuple[str, str | None, str], t_event_ns: int, items: list[Any]) -> None:
        self.batches += 1
        self.items += len(items)
        product, source, default_source = key
        self._flush(product, source, default_source, items, t_event_ns)


def unpack(message: Mapping[str, Any]) -> list[dict[str, Any]]:
    """A rendered message ``{"topic", "payload"}``, or one per item of an ``rsu.batch/1`` message, each with
    the batch's envelope (``seq`` is the batch's) and ``"batch": {"seq", "index", "count"}`` beside it."""
    payload = message.get("payload")
    if not isinstance(payload, Mapping) or payload.get("schema") != BATCH_SCHEMA:
        return [dict(message)]
    items = payload.get("items")
    if not isinstance(items, list):
        return [dict(message)]
    out = []
    for i, item in enumerate(items):
        if not isinstance(item, Mapping):
            continue
        data = {k: v for k, v in item.items() if k not in ("schema", "t_event")}
        boot = {"boot": payload["boot"]} if "boot" in payload else {}
        unpacked = {"schema": item.get("schema"), "site": payload.get("site"), "source": payload.get("source"),
                    **boot, "seq": payload.get("seq"), "t_event": item.get("t_event"),
                    "t_publish": payload.get("t_publish"), **data}
        out.append({**message, "payload": unpacked,
                    "batch": {"seq": payload.get("seq"), "index": i, "count": len(items)}})
    return out
