"""The subscriber behind ``rsu tap``: receive messages, decode them, hand one JSON-ready dict per message.

Two-part messages ``[topic, payload]`` become ``{"topic": ..., "payload": {...}}``. Three-part binary
messages ``[topic, header, body]`` get the body decoded by the decoder named by the header's ``encoding``
and added to the payload as ``body``; without a decoder (or when decoding fails) the body is added as
``body_base64`` with a ``note`` saying why. Malformed messages are counted, reported and skipped.
An ``rsu.batch/1`` message (publish.uplink.batch) is handed on as one message per item
(:func:`rsu.publish.batch.unpack`).
"""

from __future__ import annotations

import base64
import json
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import zmq
from zmq.utils.monitor import parse_monitor_message

from rsu.publish.batch import unpack

__all__ = ["BadMessage", "TapResult", "render", "tap", "to_json_line"]

log = logging.getLogger(__name__)

Decoder = Callable[[bytes], Mapping[str, Any]]

_HANDSHAKE_EVENTS = {
    zmq.EVENT_HANDSHAKE_FAILED_AUTH: "the publisher refused this client's key (not in its authorized_keys)",
    zmq.EVENT_HANDSHAKE_FAILED_PROTOCOL: "security handshake failed (CURVE on one side only, or wrong server key?)",
    zmq.EVENT_HANDSHAKE_FAILED_NO_DETAIL: "security handshake failed (wrong --server-key?)",
}


class BadMessage(ValueError):
    """A message that is not ``[topic, JSON object]`` or ``[topic, JSON header, body]``."""


@dataclass(slots=True)
class TapResult:
    """What :func:`tap` saw: messages handed on, messages skipped, and why it stopped."""

    received: int = 0
    skipped: int = 0
    timed_out: bool = False
    problems: list[str] = field(default_factory=list)


def _json_object(frame: bytes, what: str) -> dict[str, Any]:
    try:
        value = json.loads(frame)
    except (UnicodeDecodeError, ValueError) as exc:
        raise BadMessage(f"{what} is not UTF-8 JSON: {exc}") from None
    except RecursionError:  # a hostile publisher's deeply nested arrays (found by rsu fuzz)
        raise BadMessage(f"{what} is nested too deeply") from None
    if not isinstance(value, dict):
        raise BadMessage(f"{what} is not a JSON object")
    return value


def render(frames: list[bytes], decoders: Mapping[str, Decoder]) -> dict[str, Any]:
    """One received multipart message as ``{"topic": ..., "payload": {...}}``; BadMessage if malformed."""
    if len(frames) not in (2, 3):
        raise BadMessage(f"expected 2 or 3 frames, got {len(frames)}")
    try:
        topic = frames[0].decode("utf-8")
    except UnicodeDecodeError:
        raise BadMessage("topic is not UTF-8") from None
    payload = _json_object(frames[1], "payload" if len(frames) == 2 else "header")
    if len(frames) == 3:
        body, encoding = frames[2], payload.get("encoding")
        decoder = decoders.get(encoding) if isinstance(encoding, str) else None
        note = f"no decoder for encoding {encoding!r}; body as base64"
        if decoder is not None:
            try:
                payload["body"] = dict(decoder(body))
                return {"topic": topic, "payload": payload}
            except Exception as exc:  # noqa: BLE001 - a plugin's decoder must not stop the tap
                note = f"decoding as {encoding!r} failed: {type(exc).__name__}: {exc}; body as base64"
        payload["body_base64"] = base64.b64encode(body).decode("ascii")
        payload["note"] = note
    return {"topic": topic, "payload": payload}


def _default(value: Any) -> Any:
    if isinstance(value, (bytes, bytearray)):
        return bytes(value).hex()
    if hasattr(value, "tolist"):
        return value.tolist()
    if isinstance(value, (set, frozenset)):
        return sorted(value, key=str)
    return str(value)


def to_json_line(message: Mapping[str, Any]) -> str:
    """One compact JSON line (bytes from decoders as hex, anything else unknown as its str)."""
    return json.dumps(message, separators=(",", ":"), default=_default)


def _subscriber(ctx: zmq.Context, endpoint: str, topic: str, server_key: Path | None,
                client_key: Path | None) -> tuple[zmq.Socket, zmq.Socket | None]:
    sock = ctx.socket(zmq.SUB)
    sock.setsockopt(zmq.LINGER, 0)
    monitor = None
    if server_key is not None or client_key is not None:
        if server_key is None or client_key is None:
            sock.close()
            raise ValueError("CURVE needs both --server-key and --client-key")
        from rsu.publish.curve import configure_client

        try:
            configure_client(sock, server_key, client_key)
        except Exception:
            sock.close()
            raise
        monitor = sock.get_monitor_socket(sum(_HANDSHAKE_EVENTS))
    sock.subscribe(topic.encode("utf-8"))
    try:
        sock.connect(endpoint)
    except zmq.ZMQError as exc:
        if monitor is not None:
            monitor.close()
        sock.close()
        raise ValueError(f"cannot connect to {endpoint!r}: {exc}") from None
    return sock, monitor


def tap(endpoint: str, *, emit: Callable[[dict[str, Any]], None], topic: str = "", count: int | None = None,
        timeout: float | None = None, decoders: Mapping[str, Decoder] | None = None,
        server_key: Path | None = None, client_key: Path | None = None,
        on_skip: Callable[[str], None] | None = None) -> TapResult:
    """Subscribe to ``endpoint`` (prefix ``topic``) and ``emit`` each message until ``count`` or ``timeout``.

    :param timeout: seconds for the whole tap; None waits forever (or until ``count``).
    :param decoders: ``encoding`` name -> body decoder for three-part messages.
    :param on_skip: told about each malformed message (it is counted in ``skipped``, not emitted).
    :raises ValueError: bad endpoint or CURVE options (message says which).
    """
    decoders = decoders or {}
    result = TapResult()
    ctx = zmq.Context()
    sock = monitor = None
    try:
        sock, monitor = _subscriber(ctx, endpoint, topic, server_key, client_key)
        poller = zmq.Poller()
        poller.register(sock, zmq.POLLIN)
        if monitor is not None:
            poller.register(monitor, zmq.POLLIN)
        deadline = None if timeout is None else time.monotonic() + timeout
        while count is None or result.received < count:
            wait_ms = 200 if deadline is None else max(0, min(200, int((deadline - time.monotonic()) * 1000)))
            ready = dict(poller.poll(wait_ms))
            if monitor is not None and monitor in ready:
                event = parse_monitor_message(monitor.recv_multipart())
                text = _HANDSHAKE_EVENTS.get(event["event"])
                if text and text not in result.problems:
                    result.problems.append(text)
                    log.warning("%s: %s", endpoint, text)
            if sock in ready:
                frames = sock.recv_multipart()
                try:
                    message = render(frames, decoders)
                except BadMessage as exc:
                    result.skipped += 1
                    if on_skip is not None:
                        on_skip(f"skipped a message: {exc}")
                    continue
                for item in unpack(message):  # an rsu.batch/1 message: one line per item
                    if count is not None and result.received >= count:
                        break
                    emit(item)
                    result.received += 1
            elif deadline is not None and time.monotonic() >= deadline:
                result.timed_out = True
                break
    finally:
        if monitor is not None and sock is not None:
            sock.disable_monitor()
            monitor.close()
        if sock is not None:
            sock.close()
        ctx.term()
    return result
