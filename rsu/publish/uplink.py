"""Network-aware publishing: measure the uplink and adapt, by product priority, without losing safety products.

:class:`UplinkPublisher` wraps the box's :class:`~rsu.publish.zmq_publisher.ZmqPublisher` (same
:class:`rsu_sdk.Publisher` API, so the host and the plugins use it unchanged). A thread measures the link
(:mod:`rsu.publish.linkprobe`) and sets the level ``good`` / ``slow`` / ``congested``; then:

- **safety** (``v2x/*``, ``fault``, ``actuation``, ``health``): never thinned, never batched. A send a full
  subscriber queue refuses is held (no ``seq`` used) and retried in order; later safety messages queue
  behind it, so their order and contiguous ``seq`` are kept. What is still held at :meth:`close` after
  ``close_flush_s`` is journalled (rsu/publish/safety_journal.py) and sent first at the next start.
- **normal** (``objects``, ``radar``, ``env``, plugin products): kept 1 in ``normal`` per topic; while not
  good, ``batch.products`` go out in ``rsu.batch/1`` messages when ``batch.enabled`` (opt-in).
- **low** (``detections``, products named ``*snapshot*``): kept 1 in ``low`` per topic, thinned first.

Slow subscriber or slow uplink: while another connection keeps up (kernel send queue < ``slow_backlog_bytes``)
a full queue is one subscriber's problem: the publisher sends past it (:attr:`ZmqPublisher.isolate`), safety
included, so only that subscriber loses messages (it sees the ``seq`` gap). Only when every connection is
behind (or no backlog signal can tell) is the box's uplink the bottleneck: safety is held, and the level
(from the fastest connection's backlog) thins.

A thinned message is not published at all, so it uses no ``seq``: a ``seq`` gap still means loss on the bus.
Every level change is logged, counted, listed in :meth:`stats` (``uplink``: offered / sent / thinned per
priority and product, held safety messages, changes) and, with ``announce``, published as a ``health`` event
of component ``uplink``. Holding needs ``publish.zmq.count_drops`` (the default): without it ZeroMQ drops
silently per subscriber and only thinning protects safety products.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter, deque
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from rsu_sdk import PublishError

from rsu.publish.batch import BATCH_SCHEMA, Batcher
from rsu.publish.linkprobe import LEVELS, LinkSample, LinkState, SlowSubscriberCheck, endpoint_port, tcp_backlog
from rsu.publish.linkprobe import tcp_probe
from rsu.publish.safety_journal import HeldMessage, read_held, write_held
from rsu.publish.topics import check_source, default_schema

__all__ = ["UplinkPublisher", "ScopedUplinkPublisher", "priority_of", "SAFETY", "NORMAL", "LOW"]

log = logging.getLogger(__name__)

SAFETY, NORMAL, LOW = "safety", "normal", "low"
_BUILTIN = {"v2x/cpm": SAFETY, "fault": SAFETY, "actuation": SAFETY, "health": SAFETY,
            "objects": NORMAL, "radar": NORMAL, "env": NORMAL, "detections": LOW}
_PUMP_S = 0.002
_REPLAY_WAIT_S = 10.0  # journalled messages wait this long for a first subscriber after a start


def priority_of(product: str, overrides: Mapping[str, str] | None = None) -> str:
    """``safety``, ``normal`` or ``low`` for a product name (config ``priorities`` first)."""
    if overrides and product in overrides:
        return overrides[product]
    if product in _BUILTIN:
        return _BUILTIN[product]
    if product.startswith("v2x/"):
        return SAFETY
    return LOW if "snapshot" in product else NORMAL


class UplinkPublisher:
    """A :class:`rsu_sdk.Publisher` that adapts to the uplink; see the module docstring.

    :param parent: the box's ZmqPublisher (closed by :meth:`close`).
    :param cfg: ``publish.uplink``.
    :param monitor: start the measuring thread (tests may drive :meth:`observe` themselves).
    :param journal: where held safety messages go at close and come back from at start; None: only counted.
    """

    def __init__(self, parent: Any, cfg: Any, *, proc_root: Path = Path("/proc"), monitor: bool = True,
                 clock: Callable[[], float] = time.monotonic, journal: Path | None = None) -> None:
        self.parent = parent
        self.cfg = cfg
        self.config = parent.config
        self.site = parent.site
        self.default_source = parent.default_source
        self.proc_root = proc_root
        self._port = endpoint_port(parent.endpoint)
        self._lock = threading.Lock()
        self._hold_lock = threading.Lock()
        self._held: deque[HeldMessage] = deque()
        self.journal = journal
        self._replay_until: float | None = None
        self._scopes: dict[str, Any] = {}
        self._prio: dict[str, str] = {}
        self._seen: Counter[tuple[str, str | None, str]] = Counter()
        self.offered: Counter[str] = Counter()
        self.sent: Counter[str] = Counter()
        self.thinned: Counter[str] = Counter()
        self.counts: Counter[str] = Counter()
        self._last_pressure = 0
        self.last_sample = LinkSample()
        self.state = LinkState(cfg, on_change=self._changed, clock=clock)
        self.batcher = Batcher(cfg.batch, self._flush_batch, clock=clock)
        self._flush_all = False
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self.signals = self._signals()
        own = proc_root == Path("/proc") and hasattr(parent, "peers")  # the publisher's own connections only
        self._inodes: Callable[[], set[int] | None] = parent.peers.inodes if own else (lambda: None)
        self.isolating = SlowSubscriberCheck(self._port if "send_backlog" in self.signals else None,
                                             cfg.slow_backlog_bytes, proc_root, inodes=self._inodes)
        parent.isolate = self.isolating
        if journal is not None:
            self._replay(journal)
        if not parent.config.count_drops:
            log.warning("uplink: publish.zmq.count_drops is off, so a full subscriber queue drops silently and "
                        "safety products cannot be held; only thinning protects them")
        if monitor:
            self._thread = threading.Thread(target=self._loop, name="uplink", daemon=True)
            self._thread.start()

    # -- Publisher protocol -------------------------------------------------------------------------------

    @property
    def endpoint(self) -> str:
        return self.parent.endpoint

    def publish(self, product: str, data: Mapping[str, Any], *, source: str | None = None,
                t_event_ns: int | None = None, schema: str | None = None) -> None:
        """Publish, thin, batch or hold ``data`` by its priority and the link level; never blocks."""
        self._submit(product, data, None, source, t_event_ns, schema, self.default_source)

    def publish_binary(self, product: str, header: Mapping[str, Any], body: bytes, *, source: str | None = None,
                       t_event_ns: int | None = None, schema: str | None = None) -> None:
        """As :meth:`publish` for ``[topic, header, body]`` messages (never batched)."""
        self._submit(product, header, body, source, t_event_ns, schema, self.default_source)

    def scoped(self, default_source: str) -> ScopedUplinkPublisher:
        """A view for one plugin or stage whose envelope ``source`` defaults to ``default_source``."""
        return ScopedUplinkPublisher(self, check_source(default_source))

    def wait_for_subscribers(self, count: int = 1, timeout: float = 5.0, *, topic: str | None = None) -> bool:
        return self.parent.wait_for_subscribers(count, timeout, topic=topic)

    # -- the policy ---------------------------------------------------------------------------------------

    def _scope(self, default_source: str) -> Any:
        scope = self._scopes.get(default_source)
        if scope is None:
            scope = self._scopes[default_source] = self.parent.scoped(default_source)
        return scope

    def priority(self, product: str) -> str:
        prio = self._prio.get(product)
        if prio is None:
            prio = self._prio[product] = priority_of(product, self.cfg.priorities)
        return prio

    def _submit(self, product: str, data: Mapping[str, Any], body: bytes | None, source: str | None,
                t_event_ns: int | None, schema: str | None, default_source: str) -> None:
        prio = self.priority(product)
        if prio == SAFETY:
            self._safety(product, data, body, source, t_event_ns, schema, default_source)
            return
        level = self.state.level
        with self._lock:
            self.offered[prio] += 1
            if level:
                thin = self.cfg.slow if level == 1 else self.cfg.congested
                keep = thin.low if prio == LOW else thin.normal
                if keep > 1:
                    key = (product, source, default_source)
                    n = self._seen[key]
                    self._seen[key] = n + 1
                    if n % keep:
                        self.thinned[product] += 1
                        return
            self.sent[prio] += 1
        if level and body is None and self.batcher.fits(product):
            t_event = time.time_ns() if t_event_ns is None else int(t_event_ns)
            if self.batcher.add(product, source, default_source, schema or default_schema(product), t_event, data):
                return
        scope = self._scope(default_source)
        if body is None:
            scope.publish(product, data, source=source, t_event_ns=t_event_ns, schema=schema)
        else:
            scope.publish_binary(product, data, body, source=source, t_event_ns=t_event_ns, schema=schema)

    def _safety(self, product: str, data: Mapping[str, Any], body: bytes | None, source: str | None,
                t_event_ns: int | None, schema: str | None, default_source: str) -> None:
        """Send now, or hold in order behind earlier held safety messages; PublishError for bad input."""
        t_event = time.time_ns() if t_event_ns is None else t_event_ns  # the event time, not the retry's
        msg = HeldMessage(product, data, body, source, t_event, schema, default_source)
        with self._hold_lock:
            self.offered[SAFETY] += 1
            if not self._held and self._send_held(msg):
                self.sent[SAFETY] += 1
                return
            self._hold_locked(msg)
        self._wake.set()

    def _hold_locked(self, msg: HeldMessage) -> None:
        if len(self._held) >= self.cfg.safety_backlog_max:
            self.counts["safety_refused"] += 1
            if self.counts["safety_refused"] == 1:
                log.error("uplink: %d safety messages held, refusing more (publish.uplink.safety_backlog_max)",
                          len(self._held))
            return
        self._held.append(msg)
        self.counts["held"] += 1
        self.counts["held_max"] = max(self.counts["held_max"], len(self._held))

    def _send_held(self, m: HeldMessage) -> bool:
        """One try; a refusal while only a subscriber (not the uplink) is behind sends past its full queue."""
        for force in (False, True):
            if force:
                if not self.isolating():
                    return False
                self.counts["safety_past_slow_subscriber"] += 1
            if m.try_send(self.parent, force):
                return True
        return False

    def _pump(self) -> int:
        """Send held safety messages in order until one is refused; returns how many remain held."""
        if self._replay_until is not None:  # replayed from the journal: not into an empty room
            if time.monotonic() < self._replay_until and not self.parent.wait_for_subscribers(1, 0):
                return len(self._held)
            self._replay_until = None
        with self._hold_lock:
            while self._held:
                try:
                    if not self._send_held(self._held[0]):
                        break
                    self.sent[SAFETY] += 1
                except PublishError as exc:  # cannot happen for a message that was valid when held
                    self.counts["safety_invalid"] += 1
                    log.warning("uplink: held message refused: %s", exc)
                self._held.popleft()
            return len(self._held)

    def _replay(self, path: Path) -> None:
        messages, bad = read_held(path)
        self.counts["journal_bad"] += bad
        if messages:
            log.warning("uplink: %d safety message(s) held at the last stop are sent first (%s)", len(messages), path)
            with self._hold_lock:
                for m in messages:
                    self._hold_locked(m)
            self.counts["replayed_from_journal"] += len(messages)
            self._replay_until = time.monotonic() + _REPLAY_WAIT_S

    def _flush_batch(self, product: str, source: str | None, default_source: str, items: list[Any],
                     t_event_ns: int) -> None:
        self._scope(default_source).publish(product, {"items": items}, source=source, t_event_ns=t_event_ns,
                                            schema=BATCH_SCHEMA)

    # -- measuring ----------------------------------------------------------------------------------------

    def _signals(self) -> list[str]:
        signals = ["refused_sends"]
        if self._port is not None and tcp_backlog(self._port, self.proc_root) is not None:
            signals.append("send_backlog")
        else:
            log.info("uplink: no send-backlog signal (endpoint %s, %s/net/tcp); watching refused sends%s only",
                     self.parent.endpoint, self.proc_root, " and the probe" if self.cfg.probe else "")
        if self.cfg.probe:
            signals.append("probe")
        return signals

    def sample(self) -> LinkSample:
        """Read the link's signals now."""
        backlog = tcp_backlog(self._port, self.proc_root, self._inodes()) if "send_backlog" in self.signals else None
        pressure_total = self.parent.stats()["dropped"] + self.counts["held"]
        pressure, self._last_pressure = pressure_total - self._last_pressure, pressure_total
        probe_ms = tcp_probe(self.cfg.probe, self.cfg.interval_s) if self.cfg.probe else None
        return LinkSample(backlog_bytes=None if backlog is None else min(backlog, default=0),
                          worst_backlog_bytes=None if backlog is None else max(backlog, default=0),
                          connections=0 if backlog is None else len(backlog), pressure=pressure,
                          probe_ms=probe_ms, probe_failed=bool(self.cfg.probe) and probe_ms is None)

    def observe(self, sample: LinkSample | None = None) -> str:
        """Update the level from ``sample`` (a fresh one by default); returns the level name."""
        self.last_sample = sample or self.sample()
        return LEVELS[self.state.update(self.last_sample)]

    def _changed(self, old: str, new: str, reason: str) -> None:
        self.counts[f"to_{new}"] += 1
        if new == "good":
            self._flush_all = True
            self._wake.set()
        if self.cfg.announce:
            thin = {"slow": self.cfg.slow, "congested": self.cfg.congested}.get(new)
            what = "" if thin is None else f"; keeping 1 in {thin.low} low, 1 in {thin.normal} normal messages"
            try:
                self._submit("health", {"component": "uplink", "status": "ok" if new == "good" else "degraded",
                                        "message": f"uplink {old} -> {new}: {reason}{what}"},
                             None, "uplink", None, "rsu.health/1", self.default_source)
            except PublishError as exc:
                log.warning("uplink: cannot announce the change: %s", exc)

    def _loop(self) -> None:
        next_sample = time.monotonic()
        while not self._stop.is_set():
            now = time.monotonic()
            if now >= next_sample:
                next_sample = now + self.cfg.interval_s
                try:
                    self.observe()
                except Exception:  # the monitor must not die: keep publishing at the last level
                    log.exception("uplink: measuring the link failed")
            held = self._pump()
            if self._flush_all:
                self._flush_all = False
                self.batcher.flush_due(everything=True)
            else:
                self.batcher.flush_due()
            busy = held or self.batcher.pending()
            wait = _PUMP_S if busy else max(0.0, next_sample - time.monotonic())
            self._wake.wait(min(wait, self.cfg.interval_s))
            self._wake.clear()

    # -- stats and shutdown -------------------------------------------------------------------------------

    def stats(self) -> dict[str, Any]:
        """The publisher's stats plus ``uplink``: level, changes, offered / sent / thinned, held safety."""
        out = self.parent.stats()
        s = self.last_sample
        with self._lock, self._hold_lock:
            out["uplink"] = {
                "state": LEVELS[self.state.level],
                "changes": self.state.changes,
                "recent_changes": list(self.state.history[-10:]),
                "signals": list(self.signals),
                "last_sample": {"backlog_bytes": s.backlog_bytes, "worst_backlog_bytes": s.worst_backlog_bytes,
                                "connections": s.connections,
                                "refused": s.pressure, "probe_ms": s.probe_ms},
                "offered": dict(self.offered),
                "sent": dict(self.sent),
                "thinned": dict(self.thinned),
                "thinned_total": sum(self.thinned.values()),
                "held_now": len(self._held),
                "batches": self.batcher.batches,
                "batched_items": self.batcher.items,
                **{k: v for k, v in self.counts.items()},
            }
        return out

    def close(self, linger_ms: int | None = None) -> None:
        """Flush batches, try held safety messages for ``close_flush_s``, then close the publisher; idempotent."""
        if self._stop.is_set():
            return
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(5.0)
        self.batcher.flush_due(everything=True)
        deadline = time.monotonic() + self.cfg.close_flush_s
        while self._pump() and time.monotonic() < deadline:
            time.sleep(_PUMP_S)
        left = self._pump()
        if left:
            self._journal_left(left)
        self.parent.close(linger_ms)

    def _journal_left(self, left: int) -> None:
        with self._hold_lock:
            held, self._held = list(self._held), deque()
        if self.journal is not None:
            try:
                self.counts["safety_journalled"] += write_held(self.journal, held)
                log.warning("uplink: %d held safety message(s) journalled to %s for the next start", left, self.journal)
                return
            except (OSError, TypeError, ValueError) as exc:
                log.error("uplink: cannot journal held safety messages to %s: %s", self.journal, exc)
        self.counts["safety_lost_on_close"] += left
        log.error("uplink: %d held safety message(s) could not be sent before closing", left)

    def __enter__(self) -> UplinkPublisher:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class ScopedUplinkPublisher:
    """A plugin's or stage's view of an :class:`UplinkPublisher` with its own default envelope ``source``."""

    def __init__(self, parent: UplinkPublisher, default_source: str) -> None:
        self._parent = parent
        self.default_source = default_source

    def publish(self, product: str, data: Mapping[str, Any], *, source: str | None = None,
                t_event_ns: int | None = None, schema: str | None = None) -> None:
        """See :meth:`UplinkPublisher.publish`."""
        self._parent._submit(product, data, None, source, t_event_ns, schema, self.default_source)

    def publish_binary(self, product: str, header: Mapping[str, Any], body: bytes, *, source: str | None = None,
                       t_event_ns: int | None = None, schema: str | None = None) -> None:
        """See :meth:`UplinkPublisher.publish_binary`."""
        self._parent._submit(product, header, body, source, t_event_ns, schema, self.default_source)
