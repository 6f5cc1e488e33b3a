"""Air-station readings as JSON messages on a ZeroMQ SUB socket (``[topic, json]`` or ``[json]``).

ZeroMQ reconnects on its own (with ``RECONNECT_IVL`` doubling up to ``RECONNECT_IVL_MAX``); a silence of
``stale_after_s`` becomes a ``down`` health event and the next good message an ``ok`` one. A message of more
than two frames or over 64 KiB (``MAX_MESSAGE``), or with an event time outside ``max_clock_skew_s`` of the box
clock, is counted as bad (by reason: ``frames``, ``oversized``, ``invalid``) and skipped; the peer's next
messages are read as usual. Only a message part over ``SOCKET_HARD_CAP`` (4 MiB, memory protection) makes
ZeroMQ drop the connection (``MAXMSGSIZE``) until the peer reconnects. Nothing a peer sends ends the loop.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import zmq
from rsu_sdk import Product

from rsu.config.air_station import AirStationZmqConfig
from rsu.sources.air_station.common import Backoff, InputState
from rsu.sources.air_station.message import MAX_MESSAGE, MessageError, parse_message
from rsu.sources.bounds import ClockWindow

__all__ = ["run_zmq"]

_POLL_MS = 100
SOCKET_HARD_CAP = 4 * 1024 * 1024
"""ZeroMQ's ``MAXMSGSIZE``: a larger message part disconnects the peer before it is allocated. The 64 KiB
format limit is checked after receipt instead, so one oversized message costs only itself."""
_MAX_TOPIC = 1024


def run_zmq(cfg: AirStationZmqConfig, state: InputState, station: str, backoff: Backoff,
            emit: Callable[[Product], None], stop: threading.Event, window: ClockWindow | None = None) -> None:
    """Receive until ``stop``; never raises for bad input or a socket that cannot be opened."""
    window = window or ClockWindow()
    ctx = zmq.Context.instance()
    while not stop.is_set():
        sock = ctx.socket(zmq.SUB)
        sock.setsockopt(zmq.LINGER, 0)
        sock.setsockopt(zmq.MAXMSGSIZE, SOCKET_HARD_CAP)  # memory only: the format limit is checked per message
        sock.setsockopt(zmq.RECONNECT_IVL, int(backoff.initial * 1000))
        sock.setsockopt(zmq.RECONNECT_IVL_MAX, int(backoff.maximum * 1000))
        sock.setsockopt(zmq.SUBSCRIBE, cfg.topic.encode())
        try:
            (sock.bind if cfg.bind else sock.connect)(cfg.endpoint)
        except zmq.ZMQError as exc:
            sock.close()
            state.lost(emit, f"cannot {'bind' if cfg.bind else 'connect'} {cfg.endpoint}: {exc}")
            state.counts["reconnects"] += 1
            if backoff.wait(stop):
                return
            continue
        backoff.reset()
        try:
            _receive(sock, cfg, state, station, emit, stop, window)
        finally:
            sock.close()
        return


def _receive(sock: zmq.Socket, cfg: AirStationZmqConfig, state: InputState, station: str,
             emit: Callable[[Product], None], stop: threading.Event, window: ClockWindow) -> None:
    last_good = time.monotonic()
    while not stop.is_set():
        if not sock.poll(_POLL_MS):
            if time.monotonic() - last_good >= cfg.stale_after_s:
                state.lost(emit, f"no reading on {cfg.endpoint} for {cfg.stale_after_s:g} s")
            continue
        frames = sock.recv_multipart()
        state.counts["received"] += 1
        problem = _frame_problem(frames)
        if problem is not None:
            state.bad(*problem)
            continue
        try:
            reading = parse_message(frames[-1], source=state.source_id, default_station=station,
                                    received_ns=window.wall_ns(), window=window)
        except MessageError as exc:
            state.bad(str(exc))
            continue
        last_good = time.monotonic()
        state.alive(emit)
        state.counts["readings"] += 1
        emit(reading)


def _frame_problem(frames: list[bytes]) -> tuple[str, str] | None:
    """``(why, reason)`` when the message's shape or size is wrong, before its JSON is read."""
    if len(frames) > 2:
        return f"expected [topic, json] or [json], got {len(frames)} frames", "frames"
    if len(frames[-1]) > MAX_MESSAGE:
        return f"message: {len(frames[-1])} bytes, more than {MAX_MESSAGE}", "oversized"
    if len(frames) == 2 and len(frames[0]) > _MAX_TOPIC:
        return f"topic: {len(frames[0])} bytes, more than {_MAX_TOPIC}", "oversized"
    return None
