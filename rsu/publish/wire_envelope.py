"""The v1 envelope: data encoding, time checks, the boot id, and the envelope bytes (ZeroMQ and Kafka outputs)."""

from __future__ import annotations

import json
import secrets
from collections.abc import Mapping
from typing import Any

import numpy as np
import orjson

from rsu.publish.schema_defs import ENVELOPE_KEYS, OPTIONAL_ENVELOPE_KEYS
from rsu_sdk import PublishError

__all__ = ["PROCESS_BOOT", "new_boot_id", "envelope_head", "join_envelope"]

_ENVELOPE = frozenset(ENVELOPE_KEYS + OPTIONAL_ENVELOPE_KEYS)


def _json_default(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, Mapping):
        return dict(value)
    if isinstance(value, (set, frozenset)):
        return sorted(value)
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def _encode_data(product: str, data: Mapping[str, Any]) -> bytes:
    """The data object as compact UTF-8 JSON (checked: a mapping with str keys and no envelope keys).

    orjson writes a non-finite float as ``null`` (JSON has no NaN); rsu's own payloads refuse them earlier.
    """
    if not isinstance(data, Mapping):
        raise PublishError(f"{product}: data must be a mapping, got {type(data).__name__}")
    clash = _ENVELOPE & data.keys()
    if clash:
        raise PublishError(f"{product}: data uses envelope keys {sorted(clash)}")
    try:
        return orjson.dumps(data if isinstance(data, dict) else dict(data), default=_json_default,
                            option=orjson.OPT_SERIALIZE_NUMPY)
    except TypeError as exc:  # orjson.JSONEncodeError is a TypeError
        raise PublishError(f"{product}: data is not JSON-serialisable: {exc}") from None


def _check_time(t_event_ns: int | None) -> None:
    if t_event_ns is not None and (isinstance(t_event_ns, bool) or not isinstance(t_event_ns, (int, np.integer))
                                   or t_event_ns < 0):
        raise PublishError(f"t_event_ns: expected int nanoseconds >= 0, got {t_event_ns!r}")


def new_boot_id() -> str:
    """A fresh boot id: 64 random bits as 16 lower-case hex digits (a string: JSON readers keep it exact)."""
    return secrets.token_hex(8)


PROCESS_BOOT = new_boot_id()
"""This process's boot id: every output (ZeroMQ, Kafka) of one run of the box uses it. Random rather than a
counter persisted on disk: it needs no writable state, cannot repeat after a disk is restored or replaced, and
a subscriber only needs "same run or not"; the order of runs is in ``t_publish``."""


def envelope_head(schema_id: str, site: str, source: str, boot: str | None = None) -> bytes:
    """The constant start of a v1 envelope, up to ``"seq":`` (shared by the ZeroMQ and Kafka outputs);
    ``boot`` defaults to :data:`PROCESS_BOOT`."""
    return ('{"schema":%s,"site":%s,"source":%s,"boot":%s,"seq":' % (
        json.dumps(schema_id), json.dumps(site), json.dumps(source), json.dumps(boot or PROCESS_BOOT))).encode()


def join_envelope(head: bytes, seq: int, t_event: int, t_publish: int, data: bytes) -> bytes:
    """A whole v1 payload: ``head`` (:func:`envelope_head`), seq, times, then the members of ``data``
    (compact JSON of an object, as :func:`_encode_data` makes)."""
    rest = b"}" if data == b"{}" else b"," + data[1:]
    return b"".join((head, b"%d,\"t_event\":%d,\"t_publish\":%d" % (seq, t_event, t_publish), rest))
