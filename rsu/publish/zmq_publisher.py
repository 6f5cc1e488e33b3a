"""The box's ZeroMQ publisher: one XPUB socket, the v1 envelope, per-topic seq, counted drops.

Thread safety: plugins publish from their own worker threads and pyzmq sockets are not thread-safe, so every
socket call happens under one lock. The lock (rather than a sender thread fed by a queue) keeps a message's
latency at one non-blocking ``send`` with no thread hop or extra queue, and makes ``seq`` order equal wire order
for free. The lock is held only for building the envelope head and a ``NOBLOCK`` send, never while waiting on
the network; JSON encoding of the data happens outside it.

Slow subscribers: each subscriber has its own queue of ``send_hwm`` messages. With ``count_drops`` (default)
the socket sets ``XPUB_NODROP``, so a send that would overflow any subscriber's queue is refused at once and
seen here. :attr:`ZmqPublisher.isolate` then decides: True (the default; rsu/publish/uplink.py answers from
the kernel's per-connection send queues) sends it again with ``XPUB_NODROP`` off, which queues it for every
subscriber with room and skips the full ones (counted as ``skipped``; ZeroMQ then skips a full subscriber
without refusing until it has read its queue down, so ``skipped`` is a lower bound): a subscriber that stopped
reading loses only its own messages and sees the ``seq`` gap. False (the box's own uplink is the bottleneck:
every subscriber is behind) drops the message for all and counts it as ``dropped``. With
``count_drops: false`` every send is lossy and nothing is counted here.

``seq`` starts at 0 on each topic when the publisher starts and grows by 1 per message, dropped ones included.
``boot`` (:data:`~rsu.publish.wire_envelope.PROCESS_BOOT`, 64 random bits as 16 hex digits, new in each process)
tells one run of the box from the next, so ``(boot, seq)`` is gap-free per topic across restarts.
"""

from __future__ import annotations

import logging
import re
import threading
import time
import weakref
from collections import Counter
from collections.abc import Callable, Mapping
from typing import Any

import zmq

from rsu.config.publish import ZmqConfig
from rsu.core.netsec import insecure_bind_problem
from rsu.publish.wire_envelope import (  # noqa: F401 - _check_time and _encode_data are shared with kafka_output
    PROCESS_BOOT,
    _check_time,
    _encode_data,
    envelope_head,
    join_envelope,
    new_boot_id,
)
from rsu.publish.peers import PeerTracker
from rsu.publish.topics import check_source, default_schema, topic_for
from rsu_sdk import PublishError

__all__ = ["ZmqPublisher", "ScopedPublisher", "envelope_head", "join_envelope", "new_boot_id", "PROCESS_BOOT"]

log = logging.getLogger(__name__)

_HOLD, _FORCE = 1, 2  # send modes besides 0 (normal): refused -> False; refused -> skip the full subscribers
_DRAIN_EVERY = 1024
_CACHE_MAX = 4096
_SITE = re.compile(r"^[a-z0-9][a-z0-9_-]*$")


def _always() -> bool:
    return True


def _shutdown(sock: zmq.Socket, auth: Any, ctx: zmq.Context, own_context: bool, peers: PeerTracker) -> None:
    peers.close()
    sock.close()  # waits up to the socket's LINGER for queued messages
    if auth is not None:
        auth.stop()
    if own_context:
        ctx.term()


class ZmqPublisher:
    """Publishes JSON payloads and binary V2X messages on ``rsu/<site>/<product>[/<source>]``.

    Implements :class:`rsu_sdk.Publisher`. ``source`` given to ``publish`` adds a topic level and is the
    envelope's ``source``; without it the envelope names ``default_source``.

    :param site: the site name (``site.name`` of the config), the second topic level.
    :param config: ``publish.zmq`` of the config; the endpoint may use port ``*`` (see :attr:`endpoint`).
    :param context: a ZeroMQ context to share; by default the publisher owns one. With CURVE the context gets
        the publisher's ZAP handler, so give each CURVE publisher its own context.
    :param boot: the envelope's ``boot``; the process's (:data:`PROCESS_BOOT`) by default.
    """

    def __init__(self, site: str, config: ZmqConfig | None = None, *, default_source: str = "rsu",
                 context: zmq.Context | None = None, boot: str | None = None) -> None:
        self.config = config or ZmqConfig()
        if not isinstance(site, str) or not _SITE.match(site):
            raise PublishError(f"site.name {site!r}: expected a name matching {_SITE.pattern}")
        self.site = site
        self.default_source = check_source(default_source)
        self.boot = boot or PROCESS_BOOT
        self._own_context = context is None
        self._ctx = zmq.Context() if context is None else context
        self._lock = threading.Lock()
        self._auth = None
        self._closed = False
        self._sent: Counter[str] = Counter()
        self._dropped: Counter[str] = Counter()
        self._skipped: Counter[str] = Counter()
        self.isolate: Callable[[], bool] = _always
        """Asked when a full subscriber queue refuses a send: True sends it to the others (see the module)."""
        self._invalid = 0
        self._clamped = 0  # t_event ahead of t_publish (a clock set back): published at t_publish
        self._subs: Counter[bytes] = Counter()
        self._cache: dict[tuple[str, str | None, str, str], tuple[str, bytes, bytes]] = {}
        self._since_drain = 0
        try:
            self._sock = self._open()
        except BaseException:
            if self._auth is not None:
                self._auth.stop()
            if self._own_context:
                self._ctx.term()
            raise
        # closes the socket (and ends the context) even if close() is never called, at the latest at exit:
        # a context left with an open socket would otherwise block the interpreter's exit
        self._finalizer = weakref.finalize(self, _shutdown, self._sock, self._auth, self._ctx, self._own_context,
                                          self.peers)

    @classmethod
    def from_config(cls, config: Any, **kwargs: Any) -> ZmqPublisher:
        """Build from a whole :class:`rsu.config.root.RsuConfig`."""
        return cls(config.site.name, config.publish.zmq, **kwargs)

    def _open(self) -> zmq.Socket:
        cfg = self.config
        problem = insecure_bind_problem(cfg.endpoint, cfg.curve, "publish.zmq.curve")
        if problem and not getattr(cfg, "plaintext_beyond_loopback", False):
            # the same rule as every server of the box (docs/security.md); nothing is bound
            raise PublishError(f"publish.zmq.endpoint: {problem}")
        if problem:
            log.warning("publish.zmq.endpoint %s: bound beyond loopback WITHOUT CURVE "
                        "(publish.zmq.plaintext_beyond_loopback): anyone who can reach it reads the bus", cfg.endpoint)
        sock = self._ctx.socket(zmq.XPUB)
        try:
            sock.setsockopt(zmq.LINGER, cfg.linger_ms)
            sock.setsockopt(zmq.SNDHWM, cfg.send_hwm)
            sock.setsockopt(zmq.XPUB_VERBOSER, 1)  # every (un)subscribe reaches us: readiness and counts
            if cfg.count_drops:
                sock.setsockopt(zmq.XPUB_NODROP, 1)
            if cfg.curve is not None:
                from rsu.publish.curve import configure_server, start_authenticator

                configure_server(sock, cfg.curve.server_secret_key)
                self._auth = start_authenticator(self._ctx, cfg.curve.authorized_keys)  # before bind: no gap
            try:
                sock.bind(cfg.endpoint)
            except zmq.ZMQError as exc:
                raise PublishError(f"publish.zmq.endpoint: cannot bind {cfg.endpoint}: {exc}") from None
        except BaseException:
            sock.close(0)
            raise
        self._endpoint = sock.getsockopt_string(zmq.LAST_ENDPOINT)
        self.peers = PeerTracker(sock)  # which kernel connections are this socket's subscribers
        log.info("publishing on %s (CURVE %s, send_hwm %d)", self._endpoint,
                 "on" if cfg.curve else "off", cfg.send_hwm)
        return sock

    @property
    def endpoint(self) -> str:
        """The bound endpoint, with the real port when the config asked for ``*``."""
        return self._endpoint

    # -- Publisher protocol -------------------------------------------------------------------------------

    def publish(self, product: str, data: Mapping[str, Any], *, source: str | None = None,
                t_event_ns: int | None = None, schema: str | None = None) -> None:
        """Send ``[topic, envelope + data]``; never blocks. PublishError for a bad product, source or data."""
        self._publish(product, data, source, t_event_ns, schema, self.default_source)

    def publish_binary(self, product: str, header: Mapping[str, Any], body: bytes, *, source: str | None = None,
                       t_event_ns: int | None = None, schema: str | None = None) -> None:
        """Send ``[topic, envelope + header, body]``; ``header`` must name the body's ``encoding``."""
        self._publish_binary(product, header, body, source, t_event_ns, schema, self.default_source)

    def try_publish(self, product: str, data: Mapping[str, Any], *, source: str | None = None,
                    t_event_ns: int | None = None, schema: str | None = None,
                    default_source: str | None = None, force: bool = False) -> bool:
        """As :meth:`publish`, but a message a full subscriber queue refuses is neither sent nor counted and
        uses no ``seq``: False tells the caller to retry it later (rsu/publish/uplink.py holds safety
        products this way). Only ``count_drops`` sockets refuse; without it a send never fails. ``force``:
        when refused, send it to every subscriber with room (the full ones miss it; counted as dropped)."""
        return self._publish(product, data, source, t_event_ns, schema, default_source or self.default_source,
                             _FORCE if force else _HOLD)

    def try_publish_binary(self, product: str, header: Mapping[str, Any], body: bytes, *,
                           source: str | None = None, t_event_ns: int | None = None, schema: str | None = None,
                           default_source: str | None = None, force: bool = False) -> bool:
        """As :meth:`publish_binary`, with the retry contract of :meth:`try_publish`."""
        return self._publish_binary(product, header, body, source, t_event_ns, schema,
                                    default_source or self.default_source, _FORCE if force else _HOLD)

    def scoped(self, default_source: str) -> ScopedPublisher:
        """A view sharing this socket and seq counters whose envelope ``source`` defaults to ``default_source``."""
        return ScopedPublisher(self, check_source(default_source))

    # -- internals ------------------------------------------------------------------------------------------

    def _publish(self, product: str, data: Mapping[str, Any], source: str | None, t_event_ns: int | None,
                 schema: str | None, default_source: str, mode: int = 0) -> bool:
        try:
            topic, topic_b, head = self._head(product, source, schema, default_source)
            _check_time(t_event_ns)
            body = _encode_data(product, data)
        except PublishError:
            with self._lock:
                self._invalid += 1
            raise
        return self._send(topic, topic_b, head, body, t_event_ns, None, mode)

    def _publish_binary(self, product: str, header: Mapping[str, Any], body: bytes, source: str | None,
                        t_event_ns: int | None, schema: str | None, default_source: str,
                        mode: int = 0) -> bool:
        try:
            if not isinstance(body, (bytes, bytearray, memoryview)):
                raise PublishError(f"{product}: body must be bytes, got {type(body).__name__}")
            if not isinstance(header, Mapping) or not isinstance(header.get("encoding"), str):
                raise PublishError(f"{product}: header must be a mapping naming the body's 'encoding'")
            size = len(body)
            if header.get("bytes", size) != size:
                raise PublishError(f"{product}: header says {header['bytes']} bytes, body has {size}")
            topic, topic_b, head = self._head(product, source, schema, default_source)
            _check_time(t_event_ns)
            encoded = _encode_data(product, {**header, "bytes": size})
        except PublishError:
            with self._lock:
                self._invalid += 1
            raise
        return self._send(topic, topic_b, head, encoded, t_event_ns, bytes(body), mode)

    def _head(self, product: str, source: str | None, schema: str | None,
              default_source: str) -> tuple[str, bytes, bytes]:
        """Topic and the envelope's constant head, cached per (product, source, schema, default source)."""
        key = (product, source, schema or "", default_source)
        hit = self._cache.get(key)
        if hit is not None:
            return hit
        topic = topic_for(self.site, product, source)
        schema_id = schema or default_schema(product)
        if not isinstance(schema_id, str):
            raise PublishError(f"{product}: schema must be a string, got {schema_id!r}")
        head = envelope_head(schema_id, self.site, source or default_source, self.boot)
        if len(self._cache) >= _CACHE_MAX:
            self._cache.clear()
        hit = self._cache[key] = (topic, topic.encode(), head)
        return hit

    def _send(self, topic: str, topic_b: bytes, head: bytes, data: bytes, t_event_ns: int | None,
              body: bytes | None, mode: int = 0) -> bool:
        """Send, skip full subscribers, or count a drop; True when done with, False (mode ``_HOLD`` only) when
        refused and not counted."""
        with self._lock:
            if self._closed:  # shutting down: plugins may still publish; count, do not raise
                self._dropped[topic] += 1
                return True
            seq = self._sent[topic] + self._dropped[topic]
            t_publish = time.time_ns()
            t_event = t_publish if t_event_ns is None else int(t_event_ns)
            if t_event > t_publish:  # stamped before the clock was set back: the wire contract holds anyway
                t_event = t_publish
                self._clamped += 1
            payload = join_envelope(head, seq, t_event, t_publish, data)
            frames = [topic_b, payload] if body is None else [topic_b, payload, body]
            try:
                try:
                    self._sock.send_multipart(frames, flags=zmq.NOBLOCK)
                except zmq.Again:
                    # the socket learns what subscribers read from commands it processes only now and then;
                    # reading EVENTS processes them, so a subscriber that keeps up is not taken for a full one
                    self._sock.getsockopt(zmq.EVENTS)
                    self._sock.send_multipart(frames, flags=zmq.NOBLOCK)
                self._sent[topic] += 1
            except zmq.Again:
                if mode == _HOLD:
                    return False
                if mode == _FORCE or self.isolate():
                    self._send_lossy_locked(topic, frames)
                else:
                    self._dropped[topic] += 1
            except zmq.ZMQError as exc:
                self._dropped[topic] += 1
                log.debug("send on %s failed: %s", topic, exc)
            self._since_drain += 1
            if self._since_drain >= _DRAIN_EVERY:
                self._drain_locked()
        return True

    def _send_lossy_locked(self, topic: str, frames: list[bytes]) -> None:
        """A send ``XPUB_NODROP`` refused: queue it for every subscriber with room, skip the full ones."""
        self._sock.setsockopt(zmq.XPUB_NODROP, 0)
        try:
            self._sock.send_multipart(frames, flags=zmq.NOBLOCK)
            self._sent[topic] += 1
            self._skipped[topic] += 1
        except zmq.ZMQError as exc:
            self._dropped[topic] += 1
            log.debug("lossy send on %s failed: %s", topic, exc)
        finally:
            self._sock.setsockopt(zmq.XPUB_NODROP, 1)

    def _drain_locked(self) -> None:
        """Read pending (un)subscription messages; call with the lock held."""
        self._since_drain = 0
        while self._sock.getsockopt(zmq.EVENTS) & zmq.POLLIN:
            try:
                msg = self._sock.recv(zmq.NOBLOCK)
            except zmq.Again:
                break
            if msg[:1] == b"\x01":
                self._subs[msg[1:]] += 1
            elif msg[:1] == b"\x00" and self._subs[msg[1:]] > 0:
                self._subs[msg[1:]] -= 1

    def _matching(self, topic: str | None) -> int:
        want = None if topic is None else topic.encode()
        return sum(n for prefix, n in self._subs.items() if want is None or want.startswith(prefix))

    # -- readiness, stats, shutdown -------------------------------------------------------------------------

    def wait_for_subscribers(self, count: int = 1, timeout: float = 5.0, *, topic: str | None = None) -> bool:
        """Wait until ``count`` subscriptions (that would receive ``topic``, if given) reached the socket.

        Once the subscription is seen, every later message on a matching topic goes to that subscriber,
        so this ends ZeroMQ's slow-joiner race without sleeping. Returns False on timeout.
        """
        deadline = time.monotonic() + timeout
        while True:
            with self._lock:
                if self._closed:
                    raise PublishError("the publisher is closed")
                self._drain_locked()
                if self._matching(topic) >= count:
                    return True
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._sock.poll(int(min(left, 0.02) * 1000) + 1, zmq.POLLIN)

    def stats(self) -> dict[str, Any]:
        """Counts: ``sent``, ``dropped`` (sent to none), ``skipped`` (sent, but a full subscriber missed it),
        ``invalid`` (refused calls), ``subscriptions``, per-topic ones, and the ``boot`` id."""
        with self._lock:
            if not self._closed:
                self._drain_locked()
            topics = {
                t: {"sent": self._sent[t], "dropped": self._dropped[t], "skipped": self._skipped[t],
                    "next_seq": self._sent[t] + self._dropped[t]}
                for t in sorted(set(self._sent) | set(self._dropped))
            }
            return {
                "endpoint": self._endpoint,
                "boot": self.boot,
                "sent": sum(self._sent.values()),
                "dropped": sum(self._dropped.values()),
                "skipped": sum(self._skipped.values()),
                "invalid": self._invalid, "t_event_clamped": self._clamped,
                "subscriptions": self._matching(None),
                "topics": topics,
            }

    def close(self, linger_ms: int | None = None) -> None:
        """Flush for up to ``linger_ms`` (config ``linger_ms`` by default), close the socket; idempotent."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            if linger_ms is not None:
                self._sock.setsockopt(zmq.LINGER, linger_ms)
            self._finalizer()

    def __enter__(self) -> ZmqPublisher:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class ScopedPublisher:
    """A :class:`rsu_sdk.Publisher` for one plugin or stage: same socket and seq, its own default source."""

    def __init__(self, parent: ZmqPublisher, default_source: str) -> None:
        self._parent = parent
        self.default_source = default_source

    def publish(self, product: str, data: Mapping[str, Any], *, source: str | None = None,
                t_event_ns: int | None = None, schema: str | None = None) -> None:
        """See :meth:`ZmqPublisher.publish`."""
        self._parent._publish(product, data, source, t_event_ns, schema, self.default_source)

    def publish_binary(self, product: str, header: Mapping[str, Any], body: bytes, *, source: str | None = None,
                       t_event_ns: int | None = None, schema: str | None = None) -> None:
        """See :meth:`ZmqPublisher.publish_binary`."""
        self._parent._publish_binary(product, header, body, source, t_event_ns, schema, self.default_source)
