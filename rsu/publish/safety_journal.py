"""Held safety messages that could not be sent before the box stopped: written to disk, replayed at next start.

:class:`rsu.publish.uplink.UplinkPublisher` holds a safety message (CPM, DENM, alarm, actuation, health) that a
full subscriber queue refused. What is still held when the stop deadline passes goes to one JSON-lines file
(default ``<pipeline.checkpoint.dir>/uplink-held.jsonl``), written whole to a temporary file, fsynced and
renamed, so a crash mid-write leaves the previous file or none, never half of one. At the next start the file
is read back (a line that is not a valid record is counted and skipped), deleted, and its messages are
published first, with the new boot's ``seq`` and their original ``t_event``.
"""

from __future__ import annotations

import base64
import logging
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, NamedTuple

import orjson

from rsu.core.diskio import atomic_write
from rsu.publish.wire_envelope import _json_default

__all__ = ["HeldMessage", "write_held", "read_held"]

log = logging.getLogger(__name__)

_MAX_LINE = 16 << 20  # a line longer than this is not a record this box wrote


class HeldMessage(NamedTuple):
    """One safety message waiting to be sent: what ``publish`` / ``publish_binary`` was called with."""

    product: str
    data: Mapping[str, Any]
    body: bytes | None
    source: str | None
    t_event_ns: int
    schema: str | None
    default_source: str

    def try_send(self, publisher: Any, force: bool = False) -> bool:
        """``publisher.try_publish[_binary]`` (a :class:`~rsu.publish.zmq_publisher.ZmqPublisher`) of this."""
        if self.body is None:
            return publisher.try_publish(self.product, self.data, source=self.source, t_event_ns=self.t_event_ns,
                                         schema=self.schema, default_source=self.default_source, force=force)
        return publisher.try_publish_binary(self.product, self.data, self.body, source=self.source,
                                            t_event_ns=self.t_event_ns, schema=self.schema,
                                            default_source=self.default_source, force=force)


def _line(m: HeldMessage) -> bytes:
    return orjson.dumps({
        "product": m.product, "data": m.data, "source": m.source, "t_event_ns": m.t_event_ns, "schema": m.schema,
        "default_source": m.default_source, "body": None if m.body is None else base64.b64encode(m.body).decode(),
    }, default=_json_default, option=orjson.OPT_SERIALIZE_NUMPY)


def write_held(path: Path, messages: Iterable[HeldMessage]) -> int:
    """Replace ``path`` with ``messages`` (atomically); returns how many were written. OSError if it cannot."""
    lines = [_line(m) for m in messages]
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(path, b"".join(line + b"\n" for line in lines))  # a full disk leaves no torn file behind
    return len(lines)


def _record(raw: bytes) -> HeldMessage:
    obj = orjson.loads(raw)
    if not isinstance(obj, dict):
        raise ValueError("not an object")
    product, data, t_event = obj.get("product"), obj.get("data"), obj.get("t_event_ns")
    source, schema, default_source, body = (obj.get(k) for k in ("source", "schema", "default_source", "body"))
    if not isinstance(product, str) or not isinstance(data, dict) or not isinstance(default_source, str):
        raise ValueError("product, data or default_source missing")
    if isinstance(t_event, bool) or not isinstance(t_event, int) or not 0 <= t_event < 1 << 63:
        raise ValueError(f"t_event_ns {t_event!r} is not int64 nanoseconds")
    if not all(v is None or isinstance(v, str) for v in (source, schema, body)):
        raise ValueError("source, schema and body must be strings or null")
    return HeldMessage(product, data, None if body is None else base64.b64decode(body, validate=True), source,
                       t_event, schema, default_source)


def read_held(path: Path) -> tuple[list[HeldMessage], int]:
    """The records of ``path`` and how many lines were bad; deletes the file. ``([], 0)`` when there is none."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return [], 0
    except OSError as exc:
        log.error("uplink: cannot read held safety messages from %s: %s", path, exc)
        return [], 0
    out: list[HeldMessage] = []
    bad = 0
    for n, line in enumerate(raw.splitlines(), 1):
        if not line.strip():
            continue
        try:
            if len(line) > _MAX_LINE:
                raise ValueError(f"{len(line)} bytes")
            out.append(_record(line))
        except (ValueError, TypeError) as exc:  # orjson.JSONDecodeError and binascii.Error are ValueErrors
            bad += 1
            log.warning("uplink: %s line %d is not a held message (%s), skipped", path, n, exc)
    try:
        path.unlink()
    except OSError as exc:
        log.warning("uplink: cannot delete %s after reading it: %s", path, exc)
    return out, bad
