"""A test kit for the real host: run a box built from a config, subscribe to what it publishes, wait on
conditions instead of sleeping, and move a clock instead of waiting for it.

Nothing here asserts how long anything took: tests assert counts, orderings and conditions, and wait for
them with generous timeouts, so they hold on a loaded machine. A timing that matters belongs in a benchmark
(``rsu bench``).

Example::

    with running_box(cfg, tmp_path) as built, Subscriber(built.endpoint, "rsu/site/health") as sub:
        sub.wait_for_count(3, schema="rsu.health/1")
"""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from types import TracebackType
from typing import Any, NamedTuple, TypeVar

import zmq

from rsu.app.build import BuiltBox, build_box
from rsu.config import RsuConfig, parse_config
from rsu.core.clock import SYSTEM_CLOCK, Clock, ManualClock
from rsu.core.waiting import wait_for

__all__ = ["AdvancingStop", "Message", "Subscriber", "clock_seconds", "free_port", "running_box", "wait_for"]

T = TypeVar("T")


def free_port(host: str = "127.0.0.1", kind: int = socket.SOCK_STREAM) -> int:
    """A port on ``host`` that was free a moment ago (TCP by default; ``socket.SOCK_DGRAM`` for UDP)."""
    with socket.socket(socket.AF_INET, kind) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


@contextmanager
def running_box(cfg: RsuConfig | Mapping[str, Any], base_dir: Path, *, clock: Clock | None = None,
                extra_plugins: Sequence[tuple[str, object]] = (),
                state_root: Path | None = None) -> Iterator[BuiltBox]:
    """Build the box ``cfg`` describes (a parsed config or its raw mapping), start it, yield the
    :class:`~rsu.app.build.BuiltBox`, and stop it on exit, also when the test failed.

    The test may stop the box itself (``built.box.stop()``, e.g. to read the final summary inside the block);
    it is then not stopped twice. ``clock`` is handed to :func:`~rsu.app.build.build_box` (a
    :class:`~rsu.core.clock.ManualClock` makes ages and publish times move only when the test says so).
    """
    config = cfg if isinstance(cfg, RsuConfig) else parse_config(dict(cfg))
    built = build_box(config, base_dir=base_dir, state_root=state_root, clock=clock or SYSTEM_CLOCK,
                      extra_plugins=extra_plugins)
    try:
        built.box.start()
        yield built
    finally:
        if not built.box.stop_event.is_set():
            built.box.stop()


class Message(NamedTuple):
    """One message as a subscriber receives it: ``[topic, payload]`` or ``[topic, header, body]``."""

    topic: str
    payload: dict[str, Any]
    body: bytes | None = None


class Subscriber:
    """A real ZeroMQ SUB socket that collects every message under ``prefix`` on its own thread.

    :param configure: called with the socket before it connects (e.g. CURVE client keys).
    A message that is not ``[topic, JSON object, ...]`` is counted in ``bad`` and skipped.
    """

    def __init__(self, endpoint: str, prefix: str = "", *, configure: Callable[[zmq.Socket], None] | None = None,
                 context: zmq.Context | None = None) -> None:
        self._own_ctx = context is None
        self.ctx = context or zmq.Context()
        self.sock = self.ctx.socket(zmq.SUB)
        self.sock.setsockopt(zmq.RCVHWM, 0)
        self.sock.setsockopt(zmq.LINGER, 0)
        if configure is not None:
            configure(self.sock)
        self.sock.setsockopt_string(zmq.SUBSCRIBE, prefix)
        self.sock.connect(endpoint)
        self.endpoint, self.prefix = endpoint, prefix
        self.messages: list[Message] = []
        self.bad = 0
        self._cond = threading.Condition()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name=f"test-sub-{prefix or 'all'}", daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        while not self._stop.is_set():
            if not self.sock.poll(50):
                continue
            frames = self.sock.recv_multipart()
            try:
                payload = json.loads(frames[1])
                if not isinstance(payload, dict):
                    raise ValueError(f"payload is a {type(payload).__name__}, not an object")
                msg = Message(frames[0].decode(), payload, frames[2] if len(frames) > 2 else None)
            except (IndexError, UnicodeDecodeError, ValueError):
                with self._cond:
                    self.bad += 1
                continue
            with self._cond:
                self.messages.append(msg)
                self._cond.notify_all()

    def of(self, schema: str) -> list[dict[str, Any]]:
        """The payloads received so far whose ``schema`` is ``schema``, in arrival order."""
        with self._cond:
            return [m.payload for m in self.messages if m.payload.get("schema") == schema]

    def under(self, prefix: str) -> list[Message]:
        """The messages received so far whose topic starts with ``prefix``, in arrival order."""
        with self._cond:
            return [m for m in self.messages if m.topic.startswith(prefix)]

    def wait_for_count(self, n: int, *, schema: str | None = None, topic: str | None = None,
                       timeout: float = 60.0, what: str | None = None) -> list[Message]:
        """Wait until ``n`` messages (with that ``schema`` and/or under that ``topic`` prefix, when given)
        arrived; return those matching, in arrival order. Raise ``AssertionError`` after ``timeout`` s."""

        def matching() -> list[Message]:
            return [m for m in self.messages if (schema is None or m.payload.get("schema") == schema)
                    and (topic is None or m.topic.startswith(topic))]

        with self._cond:
            if not self._cond.wait_for(lambda: len(matching()) >= n, timeout):
                got = len(matching())
                raise AssertionError(f"timed out after {timeout:g} s waiting for {what or f'{n} messages'} "
                                     f"(schema {schema}, topic {topic}): got {got}")
            return matching()

    def close(self) -> None:
        """Stop the thread and close the socket (and the context, when this subscriber made it)."""
        self._stop.set()
        self._thread.join(5)
        self.sock.close(0)
        if self._own_ctx:
            self.ctx.term()

    def __enter__(self) -> Subscriber:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()


class AdvancingStop(threading.Event):
    """A stop event for a source's ``run(emit, stop)`` whose ``wait(timeout)`` moves a
    :class:`~rsu.core.clock.ManualClock` on by ``timeout`` instead of sleeping; ``waited_s`` sums the waits.

    Give the source the same clock (``monotonic=clock_seconds(clock)``) and it paces without real time passing.
    """

    def __init__(self, clock: ManualClock) -> None:
        super().__init__()
        self.clock = clock
        self.waited_s = 0.0
        self.waits = 0

    def wait(self, timeout: float | None = None) -> bool:
        if timeout:
            self.clock.advance(timeout)
            self.waited_s += timeout
            self.waits += 1
        return self.is_set()


def clock_seconds(clock: Clock) -> Callable[[], float]:
    """``clock``'s monotonic reading in seconds, for parts that take a ``monotonic()`` callable."""
    return lambda: clock.monotonic_ns() / 1e9
