"""The one set of synchronisation helpers for the tests in tests/ (not a test module): wait for a condition,
a free port, ZeroMQ subscribers, a source run on a thread, a real Modbus TCP device, a running box.

Tests wait for the thing they need (a counter, a message, a file, a port accepting), never for a stretch of
time, and assert counts, orders and states, never how long something took. The only poll loop is in
:func:`wait_until`; a fake device or plugin that must stall blocks on an event the test sets.

``running_box``, ``Subscriber`` (JSON messages on a thread), ``free_port``, ``AdvancingStop`` and
``clock_seconds`` are the host's own test kit (:mod:`rsu.app.testing`), re-exported here so a test imports
them from one place; they are imported on first use, so the light helpers (:func:`wait_until`) work in a venv
without the box's dependencies (the Flink tests).

(Plugins' own tests keep theirs, e.g. plugins/dust_control/tests/dust_helpers.py: a plugin's tests import
rsu_sdk and pymodbus only, never the host's test helpers.)
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

from rsu.core.waiting import wait_for

__all__ = [
    "AdvancingStop", "Message", "ModbusServer", "SourceRun", "Subscriber", "ZmqCollector", "ZmqSub",
    "clock_seconds", "coil_bank", "free_port", "make_video", "running_box", "wait_until",
]

T = TypeVar("T")

_KIT = ("AdvancingStop", "Message", "Subscriber", "clock_seconds", "free_port", "running_box")


def __getattr__(name: str) -> Any:  # the host's test kit, imported when first asked for
    if name in _KIT:
        import rsu.app.testing as kit

        return getattr(kit, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def wait_until(predicate: Callable[[], T], timeout: float = 60.0, what: str = "the condition", *,
               interval: float = 0.01) -> T:
    """Poll ``predicate`` until it returns something truthy and return that (:func:`rsu.core.waiting.wait_for`).

    After ``timeout`` seconds without, raise ``AssertionError`` naming ``what`` and the last value seen. The
    timeout is a hang guard, never a measurement: give it generously (a loaded 2-core machine). ``predicate``
    may act as well as look (send a probe, feed a frame) before it answers.
    """
    return wait_for(predicate, timeout, what, interval)


def make_video(path: Path, frames: int = 30, size: tuple[int, int] = (64, 48), *, fps: int = 30,
               seed: int = 0) -> Path:
    """A small MJPG video of random frames at ``path`` (what a file camera plays)."""
    import cv2
    import numpy as np

    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), fps, size)
    rng = np.random.default_rng(seed)
    for _ in range(frames):
        writer.write(rng.integers(0, 255, (size[1], size[0], 3), dtype=np.uint8))
    writer.release()
    return path


def _sub_socket(ctx: Any, endpoint: str, prefix: str | bytes, configure: Callable[[Any], None] | None,
                sockopts: dict[str, int]) -> Any:
    import zmq

    sock = ctx.socket(zmq.SUB)
    sock.setsockopt(zmq.LINGER, 0)
    for name, value in sockopts.items():
        sock.setsockopt(getattr(zmq, name), value)
    if configure is not None:
        configure(sock)
    sock.setsockopt(zmq.SUBSCRIBE, prefix.encode() if isinstance(prefix, str) else prefix)
    sock.connect(endpoint)
    return sock


class ZmqSub:
    """A plain SUB socket that reads only when the test says so (a subscriber that is slow, or never reads,
    is the point of some tests): connect, subscribe to ``prefix``, then :meth:`recv` ``n`` messages.

    ``sockopts`` are ZeroMQ options by name, set before connecting (``RCVHWM=5``, ``RECONNECT_IVL=20``);
    ``configure`` is called with the socket before it connects (e.g. CURVE client keys).
    """

    def __init__(self, endpoint: str, prefix: str | bytes = "", *, context: Any = None,
                 configure: Callable[[Any], None] | None = None, **sockopts: int) -> None:
        import zmq

        self._own_ctx = context is None
        self.ctx = context or zmq.Context()
        self.sock = _sub_socket(self.ctx, endpoint, prefix, configure, sockopts)
        self.endpoint = endpoint

    def poll(self, timeout_ms: int) -> int:
        return self.sock.poll(timeout_ms)

    def recv(self, n: int = 1, timeout: float = 60.0, what: str | None = None) -> list[list[bytes]]:
        """The next ``n`` messages (each its list of frames); ``AssertionError`` when one has not come
        ``timeout`` s after the one before."""
        out: list[list[bytes]] = []
        for _ in range(n):
            if not self.sock.poll(int(timeout * 1000)):
                raise AssertionError(f"only {len(out)} of {n} {what or 'messages'} arrived on {self.endpoint}")
            out.append(self.sock.recv_multipart())
        return out

    def recv_json(self, n: int = 1, timeout: float = 60.0, what: str | None = None) -> list[dict[str, Any]]:
        """The JSON payloads (second frame) of the next ``n`` messages."""
        return [json.loads(frames[1]) for frames in self.recv(n, timeout, what)]

    def drain(self, quiet_ms: int = 500) -> list[list[bytes]]:
        """Every message that arrives until none has come for ``quiet_ms`` (what a subscriber that was not
        reading finds queued for it)."""
        out = []
        while self.sock.poll(quiet_ms):
            out.append(self.sock.recv_multipart())
        return out

    def close(self) -> None:
        self.sock.close(0)
        if self._own_ctx:
            self.ctx.term()

    def __enter__(self) -> ZmqSub:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _frames(frames: list[bytes]) -> list[Any]:
    return [frames]


class ZmqCollector:
    """A SUB socket that reads everything on its own thread into :attr:`messages`.

    ``decode(frames)`` turns one message into the items kept (a list: a batch may unpack into several); by
    default the frames themselves. ``stamp()``, when given, is called as each message arrives and handed to
    ``decode`` as ``decode(frames, stamp)``. Reading can be paused (:meth:`pause`, or ``paused=True``) to play
    a subscriber that stopped reading; its thread then blocks until :meth:`resume`.
    """

    def __init__(self, endpoint: str, prefix: str | bytes = "", *, decode: Callable[..., list[Any]] = _frames,
                 stamp: Callable[[], Any] | None = None, paused: bool = False, context: Any = None,
                 configure: Callable[[Any], None] | None = None, **sockopts: int) -> None:
        import zmq

        self._own_ctx = context is None
        self.ctx = context or zmq.Context()
        self.sock = _sub_socket(self.ctx, endpoint, prefix, configure, {"RCVHWM": 0, **sockopts})
        self.endpoint, self.decode, self.stamp = endpoint, decode, stamp
        self.messages: list[Any] = []
        self.cond = threading.Condition()
        self.reading = threading.Event()
        if not paused:
            self.reading.set()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="test-zmq-collector", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            self.reading.wait()  # paused: blocked until the test resumes (or closes)
            if self._stop.is_set() or not self.sock.poll(50):
                continue
            frames = self.sock.recv_multipart()
            items = self.decode(frames) if self.stamp is None else self.decode(frames, self.stamp())
            with self.cond:
                self.messages.extend(items)
                self.cond.notify_all()

    def pause(self) -> None:
        self.reading.clear()

    def resume(self) -> None:
        self.reading.set()

    def snapshot(self) -> list[Any]:
        with self.cond:
            return list(self.messages)

    def wait_for(self, predicate: Callable[[list[Any]], T], timeout: float = 60.0, what: str = "messages") -> T:
        """Wait (on the collector's condition) until ``predicate(messages)`` is truthy and return its value."""
        result: list[T] = []

        def check() -> bool:
            value = predicate(self.messages)
            if value:
                result.append(value)
            return bool(value)

        with self.cond:
            if not self.cond.wait_for(check, timeout):
                raise AssertionError(f"timed out after {timeout:g} s waiting for {what} "
                                     f"({len(self.messages)} messages so far)")
        return result[0]

    def wait_for_count(self, n: int, timeout: float = 60.0, what: str | None = None,
                       where: Callable[[Any], bool] | None = None) -> list[Any]:
        """Wait until ``n`` kept items (those ``where`` accepts, when given) arrived; return those."""
        def matching(messages: list[Any]) -> list[Any]:
            got = [m for m in messages if where is None or where(m)]
            return got if len(got) >= n else []

        return self.wait_for(matching, timeout, what or f"{n} messages")

    def close(self) -> None:
        self._stop.set()
        self.reading.set()
        self._thread.join(10)
        self.sock.close(0)
        if self._own_ctx:
            self.ctx.term()

    def __enter__(self) -> ZmqCollector:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


# -------------------------------------------------------------------------------------------------
# Sources
# -------------------------------------------------------------------------------------------------


class SourceRun:
    """A source's ``run(emit, stop)`` on a thread, collecting what it emits (``out``), with waits on it.

    ``stop`` is the event handed to the source (an :class:`~rsu.app.testing.AdvancingStop` makes its pacing
    and backoff waits move a manual clock instead of time).
    """

    def __init__(self, source: Any, stop: threading.Event | None = None) -> None:
        self.source = source
        self.stop = stop if stop is not None else threading.Event()
        self.out: list[Any] = []
        self.cond = threading.Condition()
        self.thread = threading.Thread(target=source.run, args=(self._emit, self.stop), name="test-source",
                                       daemon=True)
        self.thread.start()

    def _emit(self, product: Any) -> None:
        with self.cond:
            self.out.append(product)
            self.cond.notify_all()

    def of(self, kind: type) -> list[Any]:
        """What was emitted so far of type ``kind``, in order."""
        with self.cond:
            return [p for p in self.out if isinstance(p, kind)]

    def wait_for(self, predicate: Callable[[], T], timeout: float = 30.0, what: str = "the source") -> T:
        """:func:`wait_until` ``predicate()`` (on what was emitted, or on the source's stats) is truthy."""
        return wait_until(predicate, timeout, what)

    def close(self, timeout: float = 10.0) -> None:
        """Stop the source and check that its ``run`` returned."""
        self.stop.set()
        self.thread.join(timeout)
        assert not self.thread.is_alive(), f"{type(self.source).__name__}.run did not return after stop"

    def __enter__(self) -> SourceRun:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


# -------------------------------------------------------------------------------------------------
# Modbus
# -------------------------------------------------------------------------------------------------

SimBlocks = tuple[Sequence[Any], Sequence[Any], Sequence[Any], Sequence[Any]]


def coil_bank(n: int = 16) -> SimBlocks:
    """``n`` coils, ``n`` discrete inputs, ``n`` holding and ``n`` input registers, all zero."""
    from pymodbus.simulator import DataType, SimData

    bits = [SimData(0, values=[False] * n, datatype=DataType.BITS)]
    regs = [SimData(0, count=n, values=0, datatype=DataType.REGISTERS)]
    return bits, list(bits), regs, list(regs)


class ModbusServer:
    """One real Modbus TCP device on 127.0.0.1: a pymodbus server on its own event loop, holding ``blocks``
    (coils, discrete inputs, holding registers, input registers; pymodbus ``SimData`` lists).

    Every coil write (function 5 or 15) that reaches the device is logged in ``writes`` as ``(coil, value)``.
    :meth:`stop` and :meth:`start` again on the same port play a device that goes away and comes back (with
    ``blocks`` as they were given: written values do not survive a restart).
    """

    def __init__(self, blocks: SimBlocks | None = None, *, unit: int = 1, port: int | None = None) -> None:
        from rsu.app.testing import free_port

        self.blocks = blocks or coil_bank()
        self.unit = unit
        self.port = port or free_port()
        self.writes: list[tuple[int, bool]] = []
        self._server: Any = None
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="modbus-server", daemon=True)
        self._thread.start()

    async def _action(self, fc: int, start: int, address: int, count: int, registers: list[int],
                      values: list[int] | list[bool] | None) -> None:
        if fc in (5, 15) and values is not None:
            self.writes.extend((address + i, bool(v)) for i, v in enumerate(values))

    async def _start(self) -> None:
        from pymodbus.server import ModbusTcpServer
        from pymodbus.simulator import SimDevice

        device = SimDevice(self.unit, simdata=tuple(list(b) for b in self.blocks), action=self._action)
        self._server = ModbusTcpServer(device, address=("127.0.0.1", self.port))
        await self._server.serve_forever(background=True)

    def start(self) -> ModbusServer:
        """Listen (again); returns ``self``."""
        asyncio.run_coroutine_threadsafe(self._start(), self._loop).result(30)
        return self

    def stop(self) -> None:
        """Stop listening and drop every connection (the device went away)."""
        if self._server is not None:
            asyncio.run_coroutine_threadsafe(self._server.shutdown(), self._loop).result(30)
            self._server = None

    def close(self) -> None:
        """Stop and end the event loop's thread."""
        self.stop()
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(30)

    def __enter__(self) -> ModbusServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()
