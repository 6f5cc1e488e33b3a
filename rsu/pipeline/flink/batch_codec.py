"""What crosses between the JVM half of the Kafka-fed job and its Python operator (``deploy/flink/job``).

A batch (``rsu.flink.OrderedBatcher`` -> Python): the watermark (long, ms), the key (short length, UTF-8), the
count (int), then each product's v1 envelope (int length, bytes). Results (Python -> ``rsu.flink.ResultSplitter``):
per result the topic (short length, UTF-8), the key (short length, UTF-8), the event time (long, ms) and the
envelope (int length, bytes). All big-endian; one message each way per batch.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable

__all__ = ["decode_batch", "encode_batch", "encode_results", "decode_results"]

_HEAD = struct.Struct(">qH")
_COUNT = struct.Struct(">i")
_RESULT = struct.Struct(">q")


def decode_batch(data: bytes) -> tuple[int, str, list[bytes]]:
    """``(watermark ms, key, envelopes)`` of one batch from the JVM (``rsu.flink.OrderedBatcher``)."""
    watermark, key_len = _HEAD.unpack_from(data, 0)
    pos = _HEAD.size
    key = data[pos:pos + key_len].decode()
    pos += key_len
    (count,) = _COUNT.unpack_from(data, pos)
    pos += 4
    items = []
    for _ in range(count):
        (n,) = _COUNT.unpack_from(data, pos)
        pos += 4
        items.append(data[pos:pos + n])
        pos += n
    return watermark, key, items


def encode_results(rows: Iterable[tuple[str, str, int, bytes]]) -> bytes:
    """``(topic, key, t_ms, envelope)`` rows as one message for ``rsu.flink.ResultSplitter``."""
    parts = []
    for topic, key, t_ms, v in rows:
        t, k = topic.encode(), key.encode()
        parts += [struct.pack(">H", len(t)), t, struct.pack(">H", len(k)), k, _RESULT.pack(t_ms),
                  struct.pack(">i", len(v)), v]
    return b"".join(parts)


def encode_batch(watermark_ms: int, key: str, envelopes: Iterable[bytes]) -> bytes:
    """A batch as the JVM writes it (tests and tools)."""
    items = list(envelopes)
    k = key.encode()
    parts = [_HEAD.pack(watermark_ms, len(k)), k, _COUNT.pack(len(items))]
    for e in items:
        parts += [_COUNT.pack(len(e)), e]
    return b"".join(parts)


def decode_results(data: bytes) -> list[tuple[str, str, int, bytes]]:
    """Results as the JVM reads them (tests and tools)."""
    out, pos = [], 0
    while pos < len(data):
        (n,) = struct.unpack_from(">H", data, pos)
        topic = data[pos + 2:pos + 2 + n].decode()
        pos += 2 + n
        (n,) = struct.unpack_from(">H", data, pos)
        key = data[pos + 2:pos + 2 + n].decode()
        pos += 2 + n
        (t_ms,) = _RESULT.unpack_from(data, pos)
        (n,) = _COUNT.unpack_from(data, pos + 8)
        out.append((topic, key, t_ms, data[pos + 12:pos + 12 + n]))
        pos += 12 + n
    return out
